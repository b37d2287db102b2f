//! The pure core of trailwatch: everything that reasons about CloudTrail data
//! without Arrow, DataFusion, AWS SDKs or an async runtime.
//!
//! Data flows source → decode → (lake | detect) → alert → notify; this crate
//! owns the decode step ([`event`]) and the knowledge of how CloudTrail lays
//! its objects out in a bucket ([`layout`]).

pub mod activity;
pub mod alarm;
pub mod alert;
pub mod attack;
pub mod audit;
pub mod backtest;
pub mod correlate;
pub mod detect;
pub mod digest;
pub mod event;
pub mod investigate;
pub mod layout;
pub mod nesting;
pub mod ocsf;
pub mod pattern;
pub mod posture;
pub mod respond;
pub mod rules;
pub mod sigma;
pub mod terminal;
pub mod tf;
pub mod walk;
