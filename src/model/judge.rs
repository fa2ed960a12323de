//! How an observation is judged against the model's expectation: the one
//! place that decides whether an answer matches, which refusal codes are
//! binding, and what of a webhook event is compared.
//!
//! The differ (sequential steps), the linearizability checker (concurrent
//! phases) and the fuzz targets all judge through these functions, so a
//! target cannot pass one and fail the other for the same answer.

use super::outcome::{ControlSuccess, Event, EventKind, GraphError, GraphSuccess};
use super::rules::Rule;
use serde::{Deserialize, Serialize};

/// A Graph answer as observed from an implementation, in model terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedAnswer {
    pub status: u16,
    /// For errors, `status` is repeated in the [`GraphError`] and
    /// `www_authenticate` says whether the header was there.
    pub answer: Result<GraphSuccess, GraphError>,
}

impl ObservedAnswer {
    /// The answer a correct platform gives.
    pub fn of(expected: &Result<GraphSuccess, GraphError>) -> ObservedAnswer {
        ObservedAnswer {
            status: expected.as_ref().err().map_or(200, |e| e.status),
            answer: expected.clone(),
        }
    }

    /// Whether this answer is exactly the expected one, as far as the
    /// harness compares: status, `code`, `error_subcode`, the
    /// `WWW-Authenticate` header where one is required, and the success
    /// fields except the message id (ids differ between implementations).
    pub fn matches(&self, expected: &Result<GraphSuccess, GraphError>) -> bool {
        match (&self.answer, expected) {
            (Ok(got), Ok(want)) => {
                self.status == 200
                    && match (got, want) {
                        (
                            GraphSuccess::Sent {
                                recipient_id: a, ..
                            },
                            GraphSuccess::Sent {
                                recipient_id: b, ..
                            },
                        ) => a == b,
                        _ => got == want,
                    }
            }
            (Err(got), Err(want)) => {
                got.status == want.status
                    && got.code == want.code
                    && got.subcode == want.subcode
                    && (got.www_authenticate || !want.www_authenticate)
            }
            _ => false,
        }
    }
}

/// How an observed Graph answer compares with the expected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerMatch {
    /// The same answer.
    Same,
    /// Refused as expected, but with another `code`/`error_subcode` (or
    /// without the `WWW-Authenticate` header). `strict` when the code is
    /// binding: Meta documents it ([`Rule::documents_refusal_code`]), the
    /// missing header is AUTH-1's, or the status is a 5xx.
    OtherRefusal { strict: bool },
    /// Anything else: accepted when it should be refused, refused when it
    /// should be accepted, or another success.
    Different,
}

impl AnswerMatch {
    /// Whether the answer is acceptable at all: the same, or another
    /// refusal code that only `--strict` holds against the target.
    pub fn acceptable(self, strict_codes: bool) -> bool {
        match self {
            AnswerMatch::Same => true,
            AnswerMatch::OtherRefusal { strict } => !strict && !strict_codes,
            AnswerMatch::Different => false,
        }
    }
}

/// Compares an observed Graph answer with the one the model expects from a
/// step decided by `decided_by` (rules.md, "Refusals": only CTRL-4's
/// 10/2018300 and AUTH-1's token errors are binding codes).
pub fn judge_graph(
    expected: &Result<GraphSuccess, GraphError>,
    decided_by: Rule,
    observed: &ObservedAnswer,
) -> AnswerMatch {
    if observed.matches(expected) {
        return AnswerMatch::Same;
    }
    match (expected, &observed.answer) {
        (Err(w), Err(o)) if (400..500).contains(&o.status) => {
            let strict = (decided_by.documents_refusal_code()
                && (w.code, w.subcode) != (o.code, o.subcode))
                || (w.www_authenticate && !o.www_authenticate);
            AnswerMatch::OtherRefusal { strict }
        }
        (Err(_), Err(_)) => AnswerMatch::OtherRefusal { strict: true },
        _ => AnswerMatch::Different,
    }
}

/// Whether a control-API answer is the expected one: the same kind of
/// success (message ids aside, the clock exactly), or an error where an
/// error is expected (the control API's messages are free text).
pub fn judge_control(
    expected: &Result<ControlSuccess, String>,
    observed: &Result<ControlSuccess, String>,
) -> bool {
    match (observed, expected) {
        (Ok(ControlSuccess::Ok), Ok(ControlSuccess::Ok)) => true,
        (Ok(ControlSuccess::Mid(_)), Ok(ControlSuccess::Mid(_))) => true,
        (Ok(ControlSuccess::NowMs(a)), Ok(ControlSuccess::NowMs(b))) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

impl Event {
    /// The event as compared (wire.md): message ids and timestamps left
    /// out, since they differ between implementations.
    pub fn normalized(&self) -> Event {
        let mut e = self.clone();
        e.timestamp = 0;
        match &mut e.kind {
            EventKind::Message { mid, .. } | EventKind::Postback { mid, .. } => mid.clear(),
            _ => {}
        }
        e
    }

    /// Equal but for a postback's payload, which depends on the channel
    /// (HOOK-2): the same event delivered on the other channel.
    pub fn same_but_payload(&self, other: &Event) -> bool {
        let strip = |e: &Event| {
            let mut e = e.normalized();
            if let EventKind::Postback { payload, .. } = &mut e.kind {
                *payload = None;
            }
            e
        };
        strip(self) == strip(other)
    }
}

impl EventKind {
    /// A handover event (HOOK-3): it says who owns the thread now, or who
    /// asks to.
    pub fn is_handover(&self) -> bool {
        matches!(
            self,
            EventKind::PassThreadControl { .. }
                | EventKind::TakeThreadControl { .. }
                | EventKind::RequestThreadControl { .. }
                | EventKind::PassThreadMetadata { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u32, subcode: Option<u32>) -> ObservedAnswer {
        ObservedAnswer {
            status: 400,
            answer: Err(GraphError::new(code, subcode)),
        }
    }

    #[test]
    fn ctrl_4_and_auth_1_refusal_codes_are_binding_the_others_not() {
        let other = refused(100, None);
        // CTRL-4's 10/2018300 is documented by Meta.
        let m = judge_graph(&Err(GraphError::NOT_OWNER), Rule::Ctrl4, &other);
        assert_eq!(m, AnswerMatch::OtherRefusal { strict: true });
        assert!(!m.acceptable(false));
        // TAKE-3's is the same code, but only fixed by us.
        let m = judge_graph(&Err(GraphError::NOT_OWNER), Rule::Take3, &other);
        assert_eq!(m, AnswerMatch::OtherRefusal { strict: false });
        assert!(m.acceptable(false) && !m.acceptable(true));
        // An unknown token must carry WWW-Authenticate.
        let mut bad = refused(190, None);
        let m = judge_graph(&Err(GraphError::BAD_TOKEN), Rule::Auth1, &bad);
        assert_eq!(m, AnswerMatch::OtherRefusal { strict: true });
        if let Err(e) = &mut bad.answer {
            e.www_authenticate = true;
        }
        assert_eq!(
            judge_graph(&Err(GraphError::BAD_TOKEN), Rule::Auth1, &bad),
            AnswerMatch::Same
        );
        // A server error is never just another code.
        let five = ObservedAnswer {
            status: 500,
            answer: Err(GraphError {
                status: 500,
                ..GraphError::INVALID
            }),
        };
        assert_eq!(
            judge_graph(&Err(GraphError::INVALID), Rule::Take4, &five),
            AnswerMatch::OtherRefusal { strict: true }
        );
        // Accepted instead of refused.
        let ok = ObservedAnswer::of(&Ok(GraphSuccess::Success));
        assert_eq!(
            judge_graph(&Err(GraphError::NOT_OWNER), Rule::Take3, &ok),
            AnswerMatch::Different
        );
    }

    #[test]
    fn control_answers_compare_without_message_ids() {
        assert!(judge_control(
            &Ok(ControlSuccess::Mid("m_1".into())),
            &Ok(ControlSuccess::Mid("theirs".into()))
        ));
        assert!(!judge_control(
            &Ok(ControlSuccess::NowMs(5)),
            &Ok(ControlSuccess::NowMs(6))
        ));
        assert!(judge_control(&Err("a".into()), &Err("b".into())));
        assert!(!judge_control(&Ok(ControlSuccess::Ok), &Err("b".into())));
    }
}
