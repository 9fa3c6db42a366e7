//! What a notification says: gobearmon's subject and body texts for a problem and its
//! recovery, and a sentence of their own for Nagios's other notification types
//! (acknowledgement, flapping, downtime, custom). The event's data and message were redacted
//! by the controller ([`crate::check::Redacted`]: gobearmon mailed Basic-auth passwords, bug 21).

use crate::policy::notify::NoticeType;
use crate::store::Event;

/// The event's notification type. A row written before notification types has none: it is
/// one of gobearmon's two kinds, told by its status. `None`: a type this build does not know
/// (it is still sent, with its name).
pub fn notice_type(e: &Event) -> Option<NoticeType> {
    if e.notification_type.is_empty() {
        return Some(if e.status == "offline" { NoticeType::Problem } else { NoticeType::Recovery });
    }
    NoticeType::parse(&e.notification_type)
}

/// Nagios's `$NOTIFICATIONTYPE$` as sent in every body and form: `PROBLEM`, `RECOVERY`,
/// `ACKNOWLEDGEMENT`, ... (upper case; an unknown type as written, upper-cased).
pub fn type_name(e: &Event) -> String {
    match notice_type(e) {
        Some(t) => t.as_str().to_string(),
        None => e.notification_type.to_ascii_uppercase(),
    }
}

/// E-mail subject: gobearmon's `Check offline: my http check` and `Check online: ...` for a
/// problem and a recovery, `Check <type in lower case>: NAME` for any other notification
/// (`Check acknowledgement: api`, `Check flappingstart: api`).
pub fn subject(e: &Event) -> String {
    let what = match notice_type(e) {
        Some(NoticeType::Problem) => "offline".to_string(),
        Some(NoticeType::Recovery) => "online".to_string(),
        _ => type_name(e).to_ascii_lowercase(),
    };
    format!("Check {what}: {}", e.check_name)
}

/// What happened, for a notification that is not a problem or a recovery: the phrase, and
/// whether the headline sets it off from the check's name with a colon (a noun phrase) or
/// not (a verb phrase: `Check [api] started flapping.`).
fn what_happened(e: &Event) -> (bool, String) {
    let (colon, phrase) = match notice_type(e) {
        Some(NoticeType::Acknowledgement) => (false, "problem acknowledged"),
        Some(NoticeType::FlappingStart) => (false, "started flapping"),
        Some(NoticeType::FlappingStop) => (false, "stopped flapping"),
        Some(NoticeType::FlappingDisabled) => (true, "flap detection disabled"),
        Some(NoticeType::DowntimeStart) => (false, "entered scheduled downtime"),
        Some(NoticeType::DowntimeEnd) => (false, "left scheduled downtime"),
        Some(NoticeType::DowntimeCancelled) => (true, "scheduled downtime cancelled"),
        Some(NoticeType::Custom) => (true, "custom notification"),
        Some(NoticeType::Problem | NoticeType::Recovery) | None => {
            return (true, format!("{} notification", type_name(e).to_ascii_lowercase()));
        }
    };
    (colon, phrase.to_string())
}

/// The first line of the e-mail body, and the SMS text.
pub fn headline(e: &Event) -> String {
    let name = &e.check_name;
    match notice_type(e) {
        Some(NoticeType::Problem) if e.notification_number > 1 => {
            format!("Check [{name}] is still offline (notification {}): {}", e.notification_number, e.message)
        }
        Some(NoticeType::Problem) => format!("Check [{name}] is now offline: {}", e.message),
        Some(NoticeType::Recovery) => format!("Check [{name}] is now online."),
        _ => {
            let (colon, phrase) = what_happened(e);
            format!("Check [{name}]{} {phrase}.", if colon { ":" } else { "" })
        }
    }
}

/// The e-mail body: gobearmon's text, the notification's type and number, signed by bearmon.
pub fn email_body(e: &Event) -> String {
    format!(
        "{}\n\nID: {}\nName: {}\nType: {}\nData: {}\nNotification: {} #{}\n\nbearmon",
        headline(e),
        e.check_id,
        e.check_name,
        e.check_type,
        e.check_data,
        type_name(e),
        e.notification_number
    )
}

/// The notification type as a voice says it (`downtime start`, not `downtimestart`).
fn spoken_type(e: &Event) -> String {
    match notice_type(e) {
        Some(NoticeType::Problem) => "problem".into(),
        Some(NoticeType::Recovery) => "recovery".into(),
        Some(NoticeType::Acknowledgement) => "acknowledgement".into(),
        Some(NoticeType::FlappingStart) => "flapping start".into(),
        Some(NoticeType::FlappingStop) => "flapping stop".into(),
        Some(NoticeType::FlappingDisabled) => "flapping disabled".into(),
        Some(NoticeType::DowntimeStart) => "downtime start".into(),
        Some(NoticeType::DowntimeEnd) => "downtime end".into(),
        Some(NoticeType::DowntimeCancelled) => "downtime cancelled".into(),
        Some(NoticeType::Custom) => "custom".into(),
        None => type_name(e).to_ascii_lowercase(),
    }
}

/// What a voice call says: gobearmon's sentence for a problem and a recovery (a repeated
/// problem says which notification it is); for any other notification, its type, what
/// happened and the check's state now.
pub fn voice(e: &Event) -> String {
    let intro = format!("This is a monitoring-related call from bear mon . The check . {} .", e.check_name);
    match notice_type(e) {
        Some(t @ (NoticeType::Problem | NoticeType::Recovery)) => {
            let mut s = format!("{intro} has been recorded . {} . Reason is . {}", e.status, e.message);
            if t == NoticeType::Problem && e.notification_number > 1 {
                s.push_str(&format!(" . This is notification number {}", e.notification_number));
            }
            s
        }
        _ => format!(
            "{intro} Notification type . {} . {} . The check is currently . {}",
            spoken_type(e),
            what_happened(e).1,
            e.status
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(status: &str, message: &str, kind: &str, number: u32) -> Event {
        Event {
            check_id: 7,
            check_name: "my http check".into(),
            check_type: "http".into(),
            check_data: "{}".into(),
            status: status.into(),
            message: message.into(),
            notification_type: kind.into(),
            notification_number: number,
        }
    }

    #[test]
    fn gobearmon_texts() {
        let e = event("offline", "HTTP 503", "PROBLEM", 1);
        assert_eq!(subject(&e), "Check offline: my http check");
        assert_eq!(headline(&e), "Check [my http check] is now offline: HTTP 503");
        assert!(email_body(&e).starts_with(
            "Check [my http check] is now offline: HTTP 503\n\nID: 7\nName: my http check\nType: http\nData: {}\nNotification: PROBLEM #1\n\n"
        ));
        assert_eq!(
            voice(&e),
            "This is a monitoring-related call from bear mon . The check . my http check . has been recorded . offline . Reason is . HTTP 503"
        );
        let up = Event {
            status: "online".into(),
            message: String::new(),
            notification_type: "RECOVERY".into(),
            ..e
        };
        assert_eq!(subject(&up), "Check online: my http check");
        assert_eq!(headline(&up), "Check [my http check] is now online.");
        assert!(email_body(&up).contains("\nData: {}\nNotification: RECOVERY #1\n\nbearmon"));
    }

    #[test]
    fn a_row_without_a_type_is_told_by_its_status() {
        let old = event("offline", "HTTP 503", "", 1);
        assert_eq!(type_name(&old), "PROBLEM");
        assert_eq!(subject(&old), "Check offline: my http check");
        let old = event("online", "", "", 1);
        assert_eq!(type_name(&old), "RECOVERY");
        assert_eq!(headline(&old), "Check [my http check] is now online.");
    }

    #[test]
    fn a_repeated_problem_says_which_notification_it_is() {
        let e = event("offline", "HTTP 503", "PROBLEM", 3);
        assert_eq!(subject(&e), "Check offline: my http check");
        assert_eq!(headline(&e), "Check [my http check] is still offline (notification 3): HTTP 503");
        assert!(email_body(&e).contains("\nNotification: PROBLEM #3\n"));
        assert!(voice(&e).ends_with("Reason is . HTTP 503 . This is notification number 3"), "{}", voice(&e));
    }

    #[test]
    fn every_other_type_has_its_subject_and_sentence() {
        let cases = [
            ("ACKNOWLEDGEMENT", "Check acknowledgement: api", "Check [api] problem acknowledged."),
            ("FLAPPINGSTART", "Check flappingstart: api", "Check [api] started flapping."),
            ("FLAPPINGSTOP", "Check flappingstop: api", "Check [api] stopped flapping."),
            ("FLAPPINGDISABLED", "Check flappingdisabled: api", "Check [api]: flap detection disabled."),
            ("DOWNTIMESTART", "Check downtimestart: api", "Check [api] entered scheduled downtime."),
            ("DOWNTIMEEND", "Check downtimeend: api", "Check [api] left scheduled downtime."),
            (
                "DOWNTIMECANCELLED",
                "Check downtimecancelled: api",
                "Check [api]: scheduled downtime cancelled.",
            ),
            ("CUSTOM", "Check custom: api", "Check [api]: custom notification."),
            ("SOMETHINGNEW", "Check somethingnew: api", "Check [api]: somethingnew notification."),
        ];
        for (kind, want_subject, want_headline) in cases {
            let e = Event { check_name: "api".into(), ..event("offline", "HTTP 503", kind, 2) };
            assert_eq!(subject(&e), want_subject, "{kind}");
            assert_eq!(headline(&e), want_headline, "{kind}");
            assert!(
                email_body(&e).contains(&format!("\nData: {{}}\nNotification: {kind} #2\n\nbearmon")),
                "{kind}"
            );
            let v = voice(&e);
            assert!(v.contains(" Notification type . "), "{kind}: {v}");
            assert!(v.ends_with("The check is currently . offline"), "{kind}: {v}");
            assert!(!v.contains("has been recorded"), "{kind}: {v}");
        }
        let e = Event { check_name: "api".into(), ..event("online", "", "DOWNTIMESTART", 1) };
        assert_eq!(
            voice(&e),
            "This is a monitoring-related call from bear mon . The check . api . Notification type . \
             downtime start . entered scheduled downtime . The check is currently . online"
        );
        // Lower-case types are read as the same type.
        let e = Event { check_name: "api".into(), ..event("offline", "", "acknowledgement", 1) };
        assert_eq!(type_name(&e), "ACKNOWLEDGEMENT");
        assert_eq!(headline(&e), "Check [api] problem acknowledged.");
    }
}
