//! `POST messages`: who may send (CTRL-2/3/4), the human agent tag (HA-1/2)
//! and held surveys (SURVEY-1).

use super::effects::{refuse, succeed};
use crate::model::op::{AppIx, HUMAN_AGENT_TAG, Message, MessagingType};
use crate::model::outcome::{GraphSuccess, MessageKind, Outcome, Party, Refusal};
use crate::model::rules::Rule;
use crate::model::state::{HeldSurvey, State};

pub(super) fn send(
    st: &mut State,
    app: AppIx,
    psid: &str,
    messaging_type: MessagingType,
    tag: &Option<String>,
    message: &Message,
) -> Outcome {
    // Surveys are Messenger-only: refused on Instagram before anything else
    // is looked at (IG-5).
    if let Message::Survey { .. } = message
        && st.surface(psid).is_some_and(|s| s.is_instagram())
    {
        let mut out = refuse(Refusal::SurveyOnInstagram, Rule::Ig5);
        out.rules.insert(Rule::Survey1);
        return out;
    }
    // The tag counts only with MESSAGE_TAG; any other tag is an ordinary send.
    let human_agent_tag =
        messaging_type == MessagingType::MessageTag && tag.as_deref() == Some(HUMAN_AGENT_TAG);
    if human_agent_tag && !st.setup.app(app).human_agent {
        return refuse(Refusal::HumanAgentNotApproved, Rule::Ha2);
    }
    let owner = st.owner(psid);
    let (kind, text, buttons) = match message {
        Message::Text { text, .. } => (MessageKind::Text, text.clone(), Vec::new()),
        Message::Buttons { text, buttons } => (MessageKind::Buttons, text.clone(), buttons.clone()),
        Message::Survey { title } => (
            MessageKind::Survey,
            title.clone().unwrap_or_default(),
            Vec::new(),
        ),
    };
    let rule = match owner {
        None => Rule::Ctrl3,
        Some(Party::App(o)) if o == app => Rule::Ctrl2,
        Some(_) if human_agent_tag => Rule::Ha1,
        Some(_) if kind == MessageKind::Survey => {
            // Accepted, but held until the thread next goes idle.
            let mid = st.fresh_mid();
            let t = st.threads.get_mut(psid).expect("PSID checked");
            t.held.push(HeldSurvey {
                mid: mid.clone(),
                from: app,
                title: text,
            });
            let mut out = succeed(
                GraphSuccess::Sent {
                    recipient_id: psid.to_string(),
                    message_id: mid,
                },
                Rule::Survey1,
            );
            out.rules.insert(Rule::Ctrl4);
            return out;
        }
        Some(_) => {
            let mut out = refuse(Refusal::NotOwner, Rule::Ctrl4);
            if human_agent_tag {
                out.rules.insert(Rule::Ha1);
            }
            return out;
        }
    };
    let mut out = succeed(GraphSuccess::Success, rule);
    if kind == MessageKind::Survey {
        out.rules.insert(Rule::Survey1);
    }
    let mid = st.deliver_to_user(psid, Party::App(app), (kind, text, buttons), rule, &mut out);
    out.answer = crate::model::outcome::Answer::Graph(Ok(GraphSuccess::Sent {
        recipient_id: psid.to_string(),
        message_id: mid,
    }));
    out
}
