//! What a notification says: gobearmon's subject and body texts. The event's data and
//! message were redacted by the controller ([`crate::check::Redacted`]: gobearmon mailed
//! Basic-auth passwords, bug 21).

use crate::store::Event;

/// E-mail subject: `Check offline: my http check`.
pub fn subject(e: &Event) -> String {
    format!("Check {}: {}", e.status, e.check_name)
}

/// The first line of the e-mail body, and the SMS text.
pub fn headline(e: &Event) -> String {
    if e.status == "online" {
        format!("Check [{}] is now online.", e.check_name)
    } else {
        format!("Check [{}] is now {}: {}", e.check_name, e.status, e.message)
    }
}

/// The e-mail body: gobearmon's text, signed by bearmon.
pub fn email_body(e: &Event) -> String {
    format!(
        "{}\n\nID: {}\nName: {}\nType: {}\nData: {}\n\nbearmon",
        headline(e),
        e.check_id,
        e.check_name,
        e.check_type,
        e.check_data
    )
}

/// What a voice call says.
pub fn voice(e: &Event) -> String {
    format!(
        "This is a monitoring-related call from bear mon . The check . {} . has been recorded . {} . Reason is . {}",
        e.check_name, e.status, e.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gobearmon_texts() {
        let e = Event {
            check_id: 7,
            check_name: "my http check".into(),
            check_type: "http".into(),
            check_data: "{}".into(),
            status: "offline".into(),
            message: "HTTP 503".into(),
        };
        assert_eq!(subject(&e), "Check offline: my http check");
        assert_eq!(headline(&e), "Check [my http check] is now offline: HTTP 503");
        assert!(email_body(&e).starts_with("Check [my http check] is now offline: HTTP 503\n\nID: 7\nName: my http check\nType: http\nData: {}\n\n"));
        let up = Event { status: "online".into(), message: String::new(), ..e };
        assert_eq!(headline(&up), "Check [my http check] is now online.");
    }
}
