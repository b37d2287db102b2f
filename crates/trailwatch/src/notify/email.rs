//! The `email` sink: SMTP through lettre, with STARTTLS (required, the
//! default) or implicit TLS, and authentication when a username is given.
//! Each message is plain text with an HTML alternative; its Message-ID is
//! built from the alert id (or the digest's key), so mail systems drop a
//! repeat, and the id is in the body too. Each message opens its own SMTP
//! connection (no pool): alert volumes are small, and nothing then runs in
//! the background between deliveries. TLS certificates are checked against
//! the Mozilla roots built into the binary (webpki-roots), plus `ca_file`
//! when given (a relay with its own CA).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{Secret, SmtpTls};
use super::message::Message;
use super::{SendError, Sink};

/// The sink's settings, resolved from the config.
#[derive(Debug)]
pub struct EmailSettings {
    pub host: String,
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<Secret>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// For the whole exchange: lettre's own timeout covers each read, not
    /// a server that accepts a command and never answers.
    timeout: Duration,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Email {
    pub fn new(s: EmailSettings) -> Result<Email> {
        let mut builder = match s.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .with_context(|| format!("SMTP host {}", s.host))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                .with_context(|| format!("SMTP host {}", s.host))?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        };
        if let Some(port) = s.port {
            builder = builder.port(port);
        }
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            let params = TlsParameters::builder(s.host.clone())
                .add_root_certificate(cert)
                .build_rustls()
                .context("email sink: TLS settings")?;
            builder = match s.tls {
                SmtpTls::Starttls => builder.tls(Tls::Required(params)),
                SmtpTls::Tls => builder.tls(Tls::Wrapper(params)),
                SmtpTls::None => bail!("email sink: ca_file needs tls = \"starttls\" or \"tls\""),
            };
        }
        match (&s.username, &s.password) {
            (Some(u), Some(p)) => {
                builder = builder.credentials(Credentials::new(
                    u.expose().to_string(),
                    p.expose().to_string(),
                ));
            }
            (None, None) => {}
            _ => bail!("email sink: give both username and password, or neither"),
        }
        let transport = builder.timeout(Some(s.timeout)).build();
        if s.to.is_empty() {
            bail!("email sink: `to` needs at least one address");
        }
        let from: Mailbox = s
            .from
            .parse()
            .with_context(|| format!("email sink: from address {:?}", s.from))?;
        let to =
            s.to.iter()
                .map(|t| {
                    t.parse::<Mailbox>()
                        .with_context(|| format!("email sink: to address {t:?}"))
                })
                .collect::<Result<_>>()?;
        Ok(Email {
            transport,
            timeout: s.timeout,
            from,
            to,
        })
    }

    fn mail(&self, message: &Message) -> Result<lettre::Message, SendError> {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.subject())
            .message_id(Some(format!("<{}@trailwatch>", message.key())));
        for to in &self.to {
            b = b.to(to.clone());
        }
        b.multipart(MultiPart::alternative_plain_html(
            message.text(),
            message.html(),
        ))
        .map_err(|e| SendError::permanent(format!("building the email: {e}")))
    }
}

#[async_trait]
impl Sink for Email {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let mail = self.mail(message)?;
        let sent = tokio::time::timeout(self.timeout, self.transport.send(mail))
            .await
            .map_err(|_| {
                SendError::transient(format!("SMTP: no answer within {:?}", self.timeout))
            })?;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::transient(format!("SMTP: {e}"))),
        }
    }
}
