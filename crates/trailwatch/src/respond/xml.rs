//! AWS's XML answers (EC2, IAM and S3 speak XML) as a small tree: respond
//! reads a handful of fields from each, so a generic tree with lookups by
//! element name is simpler than a serde type per answer.

use quick_xml::Reader;
use quick_xml::escape::unescape;
use quick_xml::events::Event;

/// One element: its local name, its text, its children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// Parse a document; the root is a nameless node holding its elements.
    pub fn parse(text: &str) -> Result<Node, String> {
        // Text is trimmed per element once it ends, not per piece: an
        // entity (`&amp;`) splits the text into pieces around it.
        let mut reader = Reader::from_str(text);
        let mut stack = vec![Node::default()];
        loop {
            let event = reader.read_event().map_err(|e| e.to_string())?;
            match event {
                Event::Start(e) => stack.push(Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                }),
                Event::Empty(e) => {
                    let node = Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Node::default()
                    };
                    if let Some(top) = stack.last_mut() {
                        top.children.push(node);
                    }
                }
                Event::End(_) => {
                    let mut done = stack.pop().ok_or("unbalanced XML")?;
                    done.text = done.text.trim().to_string();
                    stack
                        .last_mut()
                        .ok_or("unbalanced XML")?
                        .children
                        .push(done);
                }
                Event::Text(t) => {
                    let raw = t.decode().map_err(|e| e.to_string())?;
                    let text = unescape(&raw).map_err(|e| e.to_string())?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&text);
                    }
                }
                Event::GeneralRef(r) => {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let text = unescape(&format!("&{name};"))
                        .map_err(|e| e.to_string())?
                        .into_owned();
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&text);
                    }
                }
                Event::CData(c) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&String::from_utf8_lossy(&c));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        match (stack.pop(), stack.is_empty()) {
            (Some(root), true) => Ok(root),
            _ => Err("the XML ended inside an element".into()),
        }
    }

    /// The first direct child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The direct children named `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element named `name` anywhere below, depth first.
    pub fn find(&self, name: &str) -> Option<&Node> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }

    /// Every element named `name` below (not inside another match).
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            } else {
                c.find_all(name, out);
            }
        }
    }

    /// The text of the first element named `name` below.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.find(name).map(|n| n.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iam_answer_and_an_error_read_by_element_name() {
        let doc = Node::parse(
            r#"<?xml version="1.0"?><ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
            <ListAccessKeysResult><AccessKeyMetadata>
              <member><AccessKeyId>AKIA1</AccessKeyId><Status>Active</Status></member>
              <member><AccessKeyId>AKIA2</AccessKeyId><Status>Inactive</Status><Empty/></member>
            </AccessKeyMetadata></ListAccessKeysResult></ListAccessKeysResponse>"#,
        )
        .expect("parses");
        let mut keys = Vec::new();
        doc.find_all("member", &mut keys);
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .map(|m| {
                (
                    m.text_of("AccessKeyId").unwrap_or(""),
                    m.text_of("Status").unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(pairs, [("AKIA1", "Active"), ("AKIA2", "Inactive")]);
        let err = Node::parse(
            "<Error><Code>NoSuchBucket</Code><Message>a &amp; b &#65;</Message></Error>",
        )
        .expect("parses");
        assert_eq!(err.text_of("Message"), Some("a & b A"));
        assert!(Node::parse("<a><b></a>").is_err());
    }
}
