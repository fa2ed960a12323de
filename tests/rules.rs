//! One test (or several) per rule of `spec/rules.md`, written from the spec:
//! `rules.md` for the rules, `wire.md` for errors, check order and its
//! "Precise points", `control-api.md` for user events, inbox, clock and roles.
//!
//! Every test asserts the whole outcome of the step under test: the answer,
//! every webhook delivery (app, channel, full event), what the user received,
//! the resulting state where it matters, and that the rule was exercised. A
//! refused call must leave the state equal to a clone taken before (CTRL-5).
//!
//! Test names carry the rule ID in snake case (`ctrl_4_…`); decided points of
//! `wire.md` / `control-api.md` are named after the nearest rule.

#[path = "common/rules_kit.rs"]
mod kit;

use baton::model::*;
use kit::*;

const U: &str = "1357911";
const V: &str = "2468100";
const ALL3: [AppIx; 3] = [A0, A1, A2];
const ALL4: [AppIx; 4] = [A0, A1, A2, A3];

fn ctl_mid(mid: &str) -> Answer {
    Answer::Control(Ok(ControlSuccess::Mid(mid.into())))
}

fn now_answer(ms: u64) -> Answer {
    Answer::Control(Ok(ControlSuccess::NowMs(ms)))
}

// ===========================================================================
// CTRL: control

#[test]
fn ctrl_1_a_thread_never_touched_is_idle() {
    let mut st = page(3).build();
    let out = user_msg(&mut st, U, "hi");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &ALL3, U, T0, |_| message_ev(&mid, "hi")),
        vec![],
        Rule::Pri3,
    );
    assert_eq!(owner(&st, U), None);
    for a in ALL3 {
        let before = st.clone();
        let out = gr(&mut st, a, owner_query(U));
        expect(&out, owner_view(None), vec![], vec![], Rule::Ctrl1);
        assert_eq!(st, before);
    }
}

#[test]
fn ctrl_1_a_thread_has_at_most_one_owner() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_eq!(owner(&st, U), Some(app(A0)));
    let out = gr(&mut st, A0, pass_to(U, A1));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_ev(app(A1), Some(app(A0)), None))],
        vec![],
        Rule::Ctrl1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    // The former owner is now just another app.
    refused_call(
        &mut st,
        A0,
        text(U, "still mine?"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
    let out = gr(&mut st, A0, take(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, take_ev(app(A1), app(A0), None))],
        vec![],
        Rule::Ctrl1,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    refused_call(
        &mut st,
        A1,
        text(U, "still mine?"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
}

#[test]
fn ctrl_2_owner_sends_text_and_it_reaches_the_user() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    clock(&mut st, 5_000);
    let out = gr(&mut st, A1, text(U, "hello from app 1"));
    let mid = sent_mid(&out);
    expect(
        &out,
        sent(U, &mid),
        vec![],
        vec![(
            U,
            entry(&mid, app(A1), MessageKind::Text, "hello from app 1"),
        )],
        Rule::Ctrl2,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    // A message sent by an app is not activity: the deadline stays.
    assert_eq!(deadline(&st, U), T0 + DAY);
    assert_eq!(
        transcript(&st, U),
        vec![entry(&mid, app(A1), MessageKind::Text, "hello from app 1")]
    );
}

#[test]
fn ctrl_2_owner_sends_a_button_template() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    let out = gr(
        &mut st,
        A0,
        buttons(U, "Pick one", &[("Yes", "Y"), ("No", "N")]),
    );
    let mid = sent_mid(&out);
    expect(
        &out,
        sent(U, &mid),
        vec![],
        vec![(U, entry(&mid, app(A0), MessageKind::Buttons, "Pick one"))],
        Rule::Ctrl2,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn ctrl_3_any_app_sends_on_an_idle_thread_and_it_stays_idle() {
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    let mut mids = Vec::new();
    for a in [A1, A2, A0] {
        let out = gr(&mut st, a, text(U, "note"));
        let mid = sent_mid(&out);
        expect(
            &out,
            sent(U, &mid),
            vec![],
            vec![(U, entry(&mid, app(a), MessageKind::Text, "note"))],
            Rule::Ctrl3,
        );
        assert_eq!(owner(&st, U), None, "sending does not change the owner");
        assert!(!mids.contains(&mid), "message ids are unique");
        mids.push(mid);
    }
    assert_eq!(transcript(&st, U).len(), 3);
}

#[test]
fn ctrl_4_non_owner_send_is_refused_and_delivers_nothing() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    for a in [A1, A2] {
        refused_call(
            &mut st,
            a,
            text(U, "let me in"),
            GraphError::NOT_OWNER,
            Rule::Ctrl4,
        );
        refused_call(
            &mut st,
            a,
            buttons(U, "Click", &[("B", "b")]),
            GraphError::NOT_OWNER,
            Rule::Ctrl4,
        );
    }
    assert_eq!(transcript(&st, U), vec![]);
}

#[test]
fn ctrl_4_primary_that_does_not_own_cannot_send_either() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A2);
    refused_call(
        &mut st,
        A0,
        text(U, "I am primary"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
}

fn assert_success_pass(st: &mut State, from: AppIx, to: AppIx) {
    let out = gr(st, from, pass_to(U, to));
    assert_eq!(out.answer, ok());
}

#[test]
fn ctrl_4_send_while_the_page_inbox_owns_is_refused() {
    // Decided point: the Page Inbox as owner counts as "another owner".
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            text(U, "hi"),
            GraphError::NOT_OWNER,
            Rule::Ctrl4,
        );
    }
}

#[test]
fn ctrl_4_a_message_tag_other_than_human_agent_is_an_ordinary_send() {
    // Decided point: any other tag value is an ordinary send.
    let mut st = page(3).human_agent(A1).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A1,
        tagged(U, MessagingType::MessageTag, "CONFIRMED_EVENT_UPDATE", "x"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
}

#[test]
fn ctrl_4_human_agent_tag_counts_only_with_message_tag_type() {
    // Decided point: the HUMAN_AGENT tag counts only with MESSAGE_TAG.
    let mut st = page(3).human_agent(A1).build();
    owned_by(&mut st, U, A0);
    for mt in [MessagingType::Response, MessagingType::Update] {
        refused_call(
            &mut st,
            A1,
            tagged(U, mt, HUMAN_AGENT_TAG, "x"),
            GraphError::NOT_OWNER,
            Rule::Ctrl4,
        );
    }
}

/// A thread with a bit of everything: owner, extended deadline, a held
/// survey, a user menu and a page menu.
fn busy_page() -> State {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    know(&mut st, V);
    let out = gr(
        &mut st,
        A0,
        Call::SetPageMenu {
            items: choices(&[("Home", "home")]),
            platform: None,
        },
    );
    assert_eq!(out.answer, result_ok());
    assert_success_pass(&mut st, A0, A1);
    assert_eq!(gr(&mut st, A1, extend(U, 200_000)).answer, ok());
    let out = gr(
        &mut st,
        A1,
        Call::SetUserMenu {
            psid: U.into(),
            items: choices(&[("Agent", "agent")]),
        },
    );
    assert_eq!(out.answer, result_ok());
    let out = gr(&mut st, A2, survey(U, Some("Rate us")));
    assert!(matches!(
        out.answer,
        Answer::Graph(Ok(GraphSuccess::Sent { .. }))
    ));
    assert_eq!(st.thread(U).unwrap().held.len(), 1);
    st
}

#[test]
fn ctrl_5_failed_graph_calls_change_nothing() {
    let mut st = busy_page();
    let e = |c, s| GraphError::new(c, s);
    let cases: Vec<(AppIx, Call, GraphError, Rule)> = vec![
        (A2, text(U, "x"), GraphError::NOT_OWNER, Rule::Ctrl4),
        (A2, take(U, Some("m")), GraphError::NOT_OWNER, Rule::Take3),
        (A1, take(U, None), e(100, None), Rule::Take4),
        (A2, pass_to(U, A2), GraphError::NOT_OWNER, Rule::Pass3),
        (A1, pass_to(U, A1), e(100, None), Rule::Pass6),
        (
            A1,
            pass(U, Some(AppRef::Unknown("999".into())), None),
            GraphError::UNKNOWN_TARGET,
            Rule::Pass5,
        ),
        (A1, request(U, None), e(100, None), Rule::Req3),
        (A2, release(U), GraphError::NOT_OWNER, Rule::Rel2),
        (A0, release(U), GraphError::NOT_OWNER, Rule::Rel2),
        (A2, extend(U, 60), GraphError::NOT_OWNER, Rule::Exp3),
        (A1, extend(U, 0), e(100, None), Rule::Exp3),
        (A1, extend(U, 604_801), e(100, None), Rule::Exp3),
        (
            A2,
            Call::SetUserMenu {
                psid: U.into(),
                items: choices(&[("x", "x")]),
            },
            GraphError::NOT_ALLOWED,
            Rule::Menu2,
        ),
        (
            A2,
            Call::DeleteUserMenu { psid: U.into() },
            GraphError::NOT_ALLOWED,
            Rule::Menu2,
        ),
        (
            A1,
            Call::DeletePageMenu { platform: None },
            GraphError::NOT_ALLOWED,
            Rule::Menu1,
        ),
        (
            A2,
            human_agent_text(U, "x"),
            GraphError::NO_PERMISSION,
            Rule::Ha2,
        ),
        (A1, text("555", "x"), GraphError::UNKNOWN_PSID, Rule::Input1),
        (
            A1,
            malformed(Edge::Messages, Defect::BodyNotJson),
            e(100, None),
            Rule::Input1,
        ),
        (
            A1,
            Call::SecondaryReceivers { platform: None },
            GraphError::NOT_ALLOWED,
            Rule::Pri1,
        ),
    ];
    for (a, call, error, rule) in cases {
        refused_call(&mut st, a, call, error, rule);
    }
    let before = st.clone();
    let out = run(
        &mut st,
        Op::Graph(GraphOp {
            caller: Caller::Unknown,
            proof: Proof::Absent,
            call: release(U),
            transport: Transport::default(),
        }),
    );
    expect(
        &out,
        err(GraphError::BAD_TOKEN),
        vec![],
        vec![],
        Rule::Ctrl5,
    );
    assert_eq!(st, before);
}

#[test]
fn ctrl_5_failed_control_calls_change_nothing() {
    let mut st = busy_page();
    let ops = vec![
        click_op(U, 0, "nope", None),
        Op::User(UserEvent::Postback {
            psid: U.into(),
            message: MsgRef::Unknown("m_elsewhere".into()),
            payload: "x".into(),
            title: None,
            platform: Surface::Messenger,
        }),
        click_op("555", 0, "x", None),
        menu_op("555", "home", None),
        inbox_op("555", InboxAction::MarkDone),
        ad_entry_op(U, AppRef::Unknown("4242".into()), "ad", "hi"),
        ad_entry_op(U, AppRef::PageInbox, "ad", "hi"),
        Op::Roles {
            primary: Some(AppRef::PageInbox),
        },
        Op::Roles {
            primary: Some(AppRef::Unknown("4242".into())),
        },
    ];
    for op in ops {
        let out = control_refused(&mut st, op);
        assert_rule(&out, Rule::Ctrl5);
    }
}

#[test]
fn ctrl_6_an_operation_on_one_psid_leaves_another_alone() {
    let mut st = page(3).build();
    know(&mut st, V);
    owned_by(&mut st, V, A2);
    know(&mut st, U);
    let v_before = st.thread(V).unwrap().clone();
    let steps: Vec<Op> = vec![
        graph_op(A0, take(U, Some("m"))),
        user_msg_op(U, "on U"),
        graph_op(A0, text(U, "reply")),
        graph_op(A0, buttons(U, "b", &[("x", "x")])),
        graph_op(A1, survey(U, None)),
        graph_op(A0, pass_to(U, A1)),
        graph_op(A1, extend(U, 100_000)),
        graph_op(A0, request(U, None)),
        graph_op(A1, release(U)),
        inbox_op(U, InboxAction::MoveToMain),
        inbox_op(U, InboxAction::MarkDone),
        inbox_op(U, reply("admin")),
        ad_entry_op(U, to_app(A1), "ad1", "from ad"),
    ];
    for op in steps {
        let out = run(&mut st, op.clone());
        assert!(!out.is_refusal(), "{op} refused: {out:#?}");
        assert_rule(&out, Rule::Ctrl6);
        for d in &out.deliveries {
            assert_eq!(
                d.event.psid.as_deref(),
                Some(U),
                "{op}: delivery about another PSID"
            );
        }
        for r in &out.received {
            assert_eq!(r.psid, U, "{op}: message to another PSID");
        }
        assert_eq!(st.thread(V).unwrap(), &v_before, "{op} changed {V}");
    }
}

#[test]
fn ctrl_6_message_ids_are_unique_across_pages() {
    // control-api.md: message ids are unique across pages (each page is a
    // separate world).
    let mut one = page(2).build();
    let mut setup = one.setup.clone();
    setup.page_id = "888000222".into();
    let mut two = State::new(setup);
    let mids = [
        event_mid(&user_msg(&mut one, U, "hi")),
        event_mid(&user_msg(&mut two, U, "hi")),
        sent_mid(&gr(&mut one, A0, text(U, "x"))),
        sent_mid(&gr(&mut two, A0, text(U, "x"))),
    ];
    let distinct: std::collections::BTreeSet<_> = mids.iter().collect();
    assert_eq!(distinct.len(), mids.len(), "{mids:?}");
}

#[test]
fn ctrl_6_deadlines_lapse_per_thread() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    clock(&mut st, 1_000);
    owned_by(&mut st, V, A1);
    let out = clock(&mut st, DAY - 1_000);
    expect(&out, now_answer(T0 + DAY), vec![], vec![], Rule::Exp1);
    assert_eq!(owner(&st, U), None);
    assert_eq!(owner(&st, V), Some(app(A1)));
    assert_eq!(deadline(&st, V), T0 + 1_000 + DAY);
}

// ===========================================================================
// TAKE

#[test]
fn take_1_any_app_takes_an_idle_thread_without_a_webhook() {
    for taker in ALL3 {
        let mut st = page(3).primary(A0).build();
        idle(&mut st, U);
        clock(&mut st, 5_000);
        let out = gr(&mut st, taker, take(U, Some("mine now")));
        expect(&out, ok(), vec![], vec![], Rule::Take1);
        assert_eq!(owner(&st, U), Some(app(taker)));
        assert_eq!(deadline(&st, U), T0 + 5_000 + DAY);
    }
}

#[test]
fn take_1_without_a_primary_receiver() {
    let mut st = page(2).build();
    know(&mut st, U);
    let out = gr(&mut st, A1, take(U, None));
    expect(&out, ok(), vec![], vec![], Rule::Take1);
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn take_2_primary_takes_from_an_app_which_is_told_with_metadata() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    clock(&mut st, 7_000);
    let out = gr(&mut st, A0, take(U, Some("escalation")));
    expect(
        &out,
        ok(),
        vec![handover(
            A1,
            U,
            T0 + 7_000,
            take_ev(app(A1), app(A0), Some("escalation")),
        )],
        vec![],
        Rule::Take2,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + 7_000 + DAY);
}

#[test]
fn take_2_metadata_key_absent_when_none_given() {
    let mut st = page(3).primary(A2).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A2, A0);
    let out = gr(&mut st, A2, take(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A0, U, T0, take_ev(app(A0), app(A2), None))],
        vec![],
        Rule::Take2,
    );
}

#[test]
fn take_2_empty_metadata_counts_as_given_and_is_echoed() {
    // Decided point: an empty `metadata` is echoed as "".
    let mut st = page(2).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    let out = gr(&mut st, A0, take(U, Some("")));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, take_ev(app(A1), app(A0), Some("")))],
        vec![],
        Rule::Take2,
    );
}

#[test]
fn take_2_primary_takes_from_the_page_inbox_without_webhook_folder_kept() {
    // Decided point: the primary taking from the Page Inbox leaves the folder.
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    let folder_before = folder(&st, U);
    clock(&mut st, 3_000);
    let out = gr(&mut st, A0, take(U, Some("bot again")));
    expect(&out, ok(), vec![], vec![], Rule::Take2);
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(folder(&st, U), folder_before);
    assert_eq!(deadline(&st, U), T0 + 3_000 + DAY);
}

#[test]
fn take_3_non_primary_cannot_take_from_another_app() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    refused_call(
        &mut st,
        A2,
        take(U, Some("m")),
        GraphError::NOT_OWNER,
        Rule::Take3,
    );
    // …nor from the primary itself.
    let out = gr(&mut st, A0, take(U, None));
    assert_eq!(out.answer, ok());
    refused_call(
        &mut st,
        A1,
        take(U, None),
        GraphError::NOT_OWNER,
        Rule::Take3,
    );
}

#[test]
fn take_3_with_no_primary_nobody_takes_an_owned_thread() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    for a in [A1, A2] {
        refused_call(
            &mut st,
            a,
            take(U, None),
            GraphError::NOT_OWNER,
            Rule::Take3,
        );
    }
}

#[test]
fn take_3_non_primary_cannot_take_from_the_page_inbox() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    for a in [A1, A2] {
        refused_call(
            &mut st,
            a,
            take(U, None),
            GraphError::NOT_OWNER,
            Rule::Take3,
        );
    }
}

#[test]
fn take_4_taking_a_thread_you_own_is_refused() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    refused_call(&mut st, A0, take(U, None), GraphError::INVALID, Rule::Take4);
    assert_success_pass(&mut st, A0, A1);
    refused_call(
        &mut st,
        A1,
        take(U, Some("again")),
        GraphError::INVALID,
        Rule::Take4,
    );
}

// ===========================================================================
// PASS

#[test]
fn pass_1_owner_passes_to_another_app_which_is_told() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    clock(&mut st, 1_000);
    let out = gr(&mut st, A0, pass(U, Some(to_app(A2)), Some("over to you")));
    expect(
        &out,
        ok(),
        vec![handover(
            A2,
            U,
            T0 + 1_000,
            pass_ev(app(A2), Some(app(A0)), Some("over to you")),
        )],
        vec![],
        Rule::Pass1,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn pass_1_metadata_key_absent_when_none_given() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A1);
    let out = gr(&mut st, A1, pass_to(U, A0));
    expect(
        &out,
        ok(),
        vec![handover(A0, U, T0, pass_ev(app(A0), Some(app(A1)), None))],
        vec![],
        Rule::Pass1,
    );
}

#[test]
fn pass_1_owner_passes_to_the_page_inbox_folder_main_no_webhook() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_eq!(inbox(&mut st, U, InboxAction::MarkDone).answer, ctl_ok());
    assert_eq!(folder(&st, U), Folder::Done);
    assert_eq!(owner(&st, U), Some(app(A0)));
    clock(&mut st, 2_000);
    let out = gr(
        &mut st,
        A0,
        pass(U, Some(AppRef::PageInbox), Some("human please")),
    );
    expect(&out, ok(), vec![], vec![], Rule::Pass1);
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(folder(&st, U), Folder::Main);
    assert_eq!(deadline(&st, U), T0 + 2_000 + DAY);
}

#[test]
fn pass_2_idle_thread_any_app_passes_to_another_app() {
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    let out = gr(&mut st, A1, pass(U, Some(to_app(A2)), Some("m")));
    expect(
        &out,
        ok(),
        vec![handover(A2, U, T0, pass_ev(app(A2), None, Some("m")))],
        vec![],
        Rule::Pass2,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn pass_2_idle_thread_an_app_passes_to_itself() {
    let mut st = page(3).build();
    know(&mut st, U);
    let out = gr(&mut st, A1, pass_to(U, A1));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_ev(app(A1), None, None))],
        vec![],
        Rule::Pass2,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn pass_2_idle_thread_passed_to_the_page_inbox_no_webhook_folder_main() {
    // Decided point: passing to the Page Inbox while idle sends no webhook;
    // the folder becomes main.
    let mut st = page(3).build();
    know(&mut st, U);
    inbox(&mut st, U, InboxAction::MarkDone);
    assert_eq!(folder(&st, U), Folder::Done);
    let out = gr(&mut st, A2, pass(U, Some(AppRef::PageInbox), Some("m")));
    expect(&out, ok(), vec![], vec![], Rule::Pass2);
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(folder(&st, U), Folder::Main);
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn pass_3_non_owner_cannot_pass_a_thread_another_app_owns() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    refused_call(
        &mut st,
        A2,
        pass_to(U, A0),
        GraphError::NOT_OWNER,
        Rule::Pass3,
    );
    refused_call(
        &mut st,
        A2,
        pass(U, Some(AppRef::PageInbox), None),
        GraphError::NOT_OWNER,
        Rule::Pass3,
    );
    // Being primary does not let an app pass what it does not own.
    refused_call(
        &mut st,
        A0,
        pass_to(U, A2),
        GraphError::NOT_OWNER,
        Rule::Pass3,
    );
}

#[test]
fn pass_3_non_owner_cannot_pass_while_the_page_inbox_owns() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            pass_to(U, A1),
            GraphError::NOT_OWNER,
            Rule::Pass3,
        );
    }
}

#[test]
fn pass_3_ownership_is_checked_before_pass_to_self() {
    // Decided check order: target, then ownership, then pass-to-self.
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A1,
        pass_to(U, A1),
        GraphError::NOT_OWNER,
        Rule::Pass3,
    );
}

#[test]
fn pass_4_without_target_control_goes_to_the_primary() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    clock(&mut st, 9_000);
    let out = gr(&mut st, A1, pass(U, None, Some("done")));
    expect(
        &out,
        ok(),
        vec![handover(
            A0,
            U,
            T0 + 9_000,
            pass_ev(app(A0), Some(app(A1)), Some("done")),
        )],
        vec![],
        Rule::Pass4,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + 9_000 + DAY);
}

#[test]
fn pass_4_without_target_on_an_idle_thread_goes_to_the_primary() {
    let mut st = page(3).primary(A1).build();
    idle(&mut st, U);
    let out = gr(&mut st, A2, pass(U, None, None));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_ev(app(A1), None, None))],
        vec![],
        Rule::Pass4,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn pass_4_without_target_and_without_primary_is_refused() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A0,
        pass(U, None, Some("m")),
        GraphError::INVALID,
        Rule::Pass4,
    );
    idle(&mut st, U);
    refused_call(
        &mut st,
        A1,
        pass(U, None, None),
        GraphError::INVALID,
        Rule::Pass4,
    );
}

#[test]
fn pass_4_missing_target_is_checked_before_ownership() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A1,
        pass(U, None, None),
        GraphError::INVALID,
        Rule::Pass4,
    );
}

#[test]
fn pass_4_primary_owner_passing_without_target_passes_to_itself() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    refused_call(
        &mut st,
        A0,
        pass(U, None, None),
        GraphError::INVALID,
        Rule::Pass6,
    );
}

#[test]
fn pass_5_unknown_target_is_refused() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A0,
        pass(U, Some(AppRef::Unknown("8888".into())), Some("m")),
        GraphError::UNKNOWN_TARGET,
        Rule::Pass5,
    );
}

#[test]
fn pass_5_unknown_target_is_checked_before_ownership() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A1,
        pass(U, Some(AppRef::Unknown("8888".into())), None),
        GraphError::UNKNOWN_TARGET,
        Rule::Pass5,
    );
    idle(&mut st, U);
    refused_call(
        &mut st,
        A2,
        pass(U, Some(AppRef::Unknown("8888".into())), None),
        GraphError::UNKNOWN_TARGET,
        Rule::Pass5,
    );
    inbox_owned(&mut st, U);
    refused_call(
        &mut st,
        A2,
        pass(U, Some(AppRef::Unknown("8888".into())), None),
        GraphError::UNKNOWN_TARGET,
        Rule::Pass5,
    );
}

#[test]
fn pass_6_owner_passing_to_itself_is_refused() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A2);
    refused_call(
        &mut st,
        A2,
        pass_to(U, A2),
        GraphError::INVALID,
        Rule::Pass6,
    );
}

fn pass_metadata_ev(from: AppIx, metadata: &str) -> EventKind {
    EventKind::PassThreadMetadata {
        app: from,
        metadata: metadata.into(),
    }
}

#[test]
fn pass_7_owner_hands_context_to_another_app_and_keeps_control() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    clock(&mut st, 5_000);
    let before_deadline = deadline(&st, U);
    let out = gr(
        &mut st,
        A0,
        pass_metadata(U, to_app(A2), "wants a human after 18:00"),
    );
    expect(
        &out,
        ok(),
        vec![handover(
            A2,
            U,
            T0 + 5_000,
            pass_metadata_ev(A0, "wants a human after 18:00"),
        )],
        vec![],
        Rule::Pass7,
    );
    assert_rule(&out, Rule::Hook3);
    assert_eq!(owner(&st, U), Some(app(A0)), "the owner keeps control");
    assert_eq!(deadline(&st, U), before_deadline, "it is not activity");
    // The owner can still send; the target still cannot.
    assert!(!gr(&mut st, A0, text(U, "still here")).is_refusal());
    refused_call(
        &mut st,
        A2,
        text(U, "me?"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
}

#[test]
fn pass_7_empty_metadata_counts_as_given_and_1000_code_points_fit() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    let out = gr(&mut st, A0, pass_metadata(U, to_app(A1), ""));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_metadata_ev(A0, ""))],
        vec![],
        Rule::Pass7,
    );
    let long = "é".repeat(1000);
    let out = gr(&mut st, A0, pass_metadata(U, to_app(A1), &long));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_metadata_ev(A0, &long))],
        vec![],
        Rule::Pass7,
    );
    refused_call(
        &mut st,
        A0,
        pass_metadata(U, to_app(A1), &"é".repeat(1001)),
        GraphError::INVALID,
        Rule::Input1,
    );
}

#[test]
fn pass_7_a_non_owner_is_refused_by_who_holds_the_thread() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A1,
        pass_metadata(U, to_app(A2), "m"),
        GraphError::NOT_OWNER,
        Rule::Pass7,
    );
    // The non-owner naming the owner as target is still not the owner.
    refused_call(
        &mut st,
        A1,
        pass_metadata(U, to_app(A0), "m"),
        GraphError::NOT_OWNER,
        Rule::Pass7,
    );
    idle(&mut st, U);
    refused_call(
        &mut st,
        A1,
        pass_metadata(U, to_app(A2), "m"),
        GraphError::INVALID,
        Rule::Pass7,
    );
    inbox_owned(&mut st, U);
    refused_call(
        &mut st,
        A1,
        pass_metadata(U, to_app(A2), "m"),
        GraphError::NOT_OWNER,
        Rule::Pass7,
    );
}

#[test]
fn pass_7_a_target_that_is_no_subscribed_app_is_refused_first() {
    let mut st = page(3).instagram().build();
    owned_by(&mut st, U, A0);
    for target in [
        AppRef::PageInbox,
        AppRef::InstagramInbox,
        AppRef::Unknown("8888".into()),
    ] {
        refused_call(
            &mut st,
            A0,
            pass_metadata(U, target.clone(), "m"),
            GraphError::UNKNOWN_TARGET,
            Rule::Pass7,
        );
        // Before ownership: a non-owner naming it hears of the target.
        refused_call(
            &mut st,
            A1,
            pass_metadata(U, target, "m"),
            GraphError::UNKNOWN_TARGET,
            Rule::Pass7,
        );
    }
}

#[test]
fn pass_7_the_owner_as_its_own_target_is_refused() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A1);
    refused_call(
        &mut st,
        A1,
        pass_metadata(U, to_app(A1), "m"),
        GraphError::INVALID,
        Rule::Pass7,
    );
}

#[test]
fn pass_7_both_parameters_are_required() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    for defect in [Defect::TargetMissing, Defect::MetadataMissing] {
        let out = refused_call(
            &mut st,
            A0,
            malformed(Edge::PassThreadMetadata, defect),
            GraphError::INVALID,
            Rule::Pass7,
        );
        assert_rule(&out, Rule::Input1);
    }
}

#[test]
fn pass_7_on_an_instagram_thread_the_target_hears_on_instagram() {
    let mut st = page(2).instagram().build();
    let w = "6655443322";
    ig_know(&mut st, w);
    owned_by(&mut st, w, A0);
    let out = gr(&mut st, A0, pass_metadata(w, to_app(A1), "lead"));
    expect(
        &out,
        ok(),
        on_ig_seen(vec![handover(A1, w, T0, pass_metadata_ev(A0, "lead"))]),
        vec![],
        Rule::Pass7,
    );
    assert_rule(&out, Rule::Ig1);
}

// ===========================================================================
// REQ

#[test]
fn req_1_non_owner_request_tells_the_owner_and_changes_nothing_else() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    clock(&mut st, 4_000);
    let out = gr(&mut st, A2, request(U, Some("customer asked for a human")));
    expect(
        &out,
        ok(),
        vec![handover(
            A0,
            U,
            T0 + 4_000,
            request_ev(A2, Some("customer asked for a human")),
        )],
        vec![],
        Rule::Req1,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + DAY, "a request is not activity");
}

#[test]
fn req_1_metadata_key_absent_when_none_given() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    let out = gr(&mut st, A0, request(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, request_ev(A0, None))],
        vec![],
        Rule::Req1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn req_1_request_while_the_page_inbox_owns_succeeds_silently() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    let before = st.clone();
    let out = gr(&mut st, A1, request(U, Some("m")));
    expect(&out, ok(), vec![], vec![], Rule::Req1);
    assert_eq!(st, before);
}

#[test]
fn req_2_request_on_an_idle_thread_grants_control_at_once() {
    // Decided point: the request's metadata is carried into the pass event.
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    clock(&mut st, 6_000);
    let out = gr(&mut st, A2, request(U, Some("agent 7")));
    expect(
        &out,
        ok(),
        vec![handover(
            A2,
            U,
            T0 + 6_000,
            pass_ev(app(A2), None, Some("agent 7")),
        )],
        vec![],
        Rule::Req2,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(deadline(&st, U), T0 + 6_000 + DAY);
}

#[test]
fn req_2_without_metadata() {
    let mut st = page(2).build();
    know(&mut st, U);
    let out = gr(&mut st, A0, request(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A0, U, T0, pass_ev(app(A0), None, None))],
        vec![],
        Rule::Req2,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn req_3_owner_requesting_its_own_thread_is_refused() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    refused_call(
        &mut st,
        A0,
        request(U, Some("m")),
        GraphError::INVALID,
        Rule::Req3,
    );
    assert_success_pass(&mut st, A0, A1);
    refused_call(
        &mut st,
        A1,
        request(U, None),
        GraphError::INVALID,
        Rule::Req3,
    );
}

// ===========================================================================
// REL

#[test]
fn rel_1_owner_releases_and_the_thread_goes_idle_without_webhook() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    let out = gr(&mut st, A1, release(U));
    expect(&out, ok(), vec![], vec![], Rule::Rel1);
    assert_eq!(owner(&st, U), None);
    let out = gr(&mut st, A1, owner_query(U));
    expect(&out, owner_view(None), vec![], vec![], Rule::Auth4);
}

#[test]
fn rel_1_primary_owner_releases_too() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    let out = gr(&mut st, A0, release(U));
    expect(&out, ok(), vec![], vec![], Rule::Rel1);
    assert_eq!(owner(&st, U), None);
}

#[test]
fn rel_2_non_owner_release_while_another_app_owns() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    for a in [A0, A2] {
        refused_call(&mut st, a, release(U), GraphError::NOT_OWNER, Rule::Rel2);
    }
}

#[test]
fn rel_2_release_while_the_page_inbox_owns() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    for a in ALL3 {
        refused_call(&mut st, a, release(U), GraphError::NOT_OWNER, Rule::Rel2);
    }
}

#[test]
fn rel_2_release_of_an_idle_thread() {
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    for a in ALL3 {
        refused_call(&mut st, a, release(U), GraphError::INVALID, Rule::Rel2);
    }
}

// ===========================================================================
// EXP

#[test]
fn exp_1_control_lapses_exactly_at_the_deadline_without_webhook() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    assert_eq!(deadline(&st, U), T0 + DAY);
    let out = clock(&mut st, DAY - 1);
    expect(&out, now_answer(T0 + DAY - 1), vec![], vec![], Rule::Exp1);
    assert_eq!(owner(&st, U), Some(app(A0)), "one ms before the deadline");
    let out = clock(&mut st, 1);
    expect(&out, now_answer(T0 + DAY), vec![], vec![], Rule::Exp1);
    assert_eq!(owner(&st, U), None, "now == deadline has lapsed");
    assert_eq!(st.now_ms, T0 + DAY);
    refused_call(&mut st, A0, release(U), GraphError::INVALID, Rule::Rel2);
    assert_eq!(gr(&mut st, A1, take(U, None)).answer, ok());
}

#[test]
fn exp_1_one_big_clock_step_past_the_deadline_lapses() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A1);
    let out = clock(&mut st, 3 * DAY);
    expect(&out, now_answer(T0 + 3 * DAY), vec![], vec![], Rule::Exp1);
    assert_eq!(owner(&st, U), None);
}

#[test]
fn exp_1_user_activity_moves_the_deadline_to_now_plus_24h() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    clock(&mut st, 5_000);
    let out = user_msg(&mut st, U, "still there?");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0 + 5_000, |_| {
            message_ev(&mid, "still there?")
        }),
        vec![],
        Rule::Exp1,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + 5_000 + DAY);
    // The old deadline passes without a lapse.
    clock(&mut st, DAY - 1);
    assert_eq!(owner(&st, U), Some(app(A0)));
    clock(&mut st, 1);
    assert_eq!(owner(&st, U), None);
}

#[test]
fn exp_1_activity_never_moves_the_deadline_earlier() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    assert_eq!(gr(&mut st, A0, extend(U, 604_800)).answer, ok());
    assert_eq!(deadline(&st, U), T0 + 604_800_000);
    clock(&mut st, 1_000);
    let out = user_msg(&mut st, U, "hello");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0 + 1_000, |_| message_ev(&mid, "hello")),
        vec![],
        Rule::Exp1,
    );
    assert_eq!(
        deadline(&st, U),
        T0 + 604_800_000,
        "max(deadline, now + 24 h)"
    );
    clock(&mut st, DAY + 10_000);
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn exp_1_an_owner_change_resets_the_deadline_even_after_an_extension() {
    // Decided point: the extension belonged to the previous owner.
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    assert_eq!(gr(&mut st, A1, extend(U, 500_000)).answer, ok());
    assert_eq!(deadline(&st, U), T0 + 500_000_000);
    clock(&mut st, 1_000);
    let out = gr(&mut st, A0, take(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0 + 1_000, take_ev(app(A1), app(A0), None))],
        vec![],
        Rule::Exp1,
    );
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
    clock(&mut st, DAY);
    assert_eq!(owner(&st, U), None);
}

#[test]
fn exp_1_an_owner_change_by_pass_resets_the_deadline_after_an_extension() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    assert_eq!(gr(&mut st, A0, extend(U, 300_000)).answer, ok());
    clock(&mut st, 2_000);
    let out = gr(&mut st, A0, pass_to(U, A2));
    expect(
        &out,
        ok(),
        vec![handover(
            A2,
            U,
            T0 + 2_000,
            pass_ev(app(A2), Some(app(A0)), None),
        )],
        vec![],
        Rule::Exp1,
    );
    assert_eq!(deadline(&st, U), T0 + 2_000 + DAY);
}

#[test]
fn exp_1_page_inbox_control_lapses_like_any_owner() {
    // Decided point: the Page Inbox's control lapses like any owner's.
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    let out = clock(&mut st, DAY);
    expect(&out, now_answer(T0 + DAY), vec![], vec![], Rule::Exp1);
    assert_eq!(owner(&st, U), None);
}

#[test]
fn exp_2_owner_extends_control() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    clock(&mut st, 1_000);
    let out = gr(&mut st, A1, extend(U, 259_200));
    expect(&out, ok(), vec![], vec![], Rule::Exp2);
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(deadline(&st, U), T0 + 1_000 + 259_200_000);
    clock(&mut st, 259_200_000 - 1);
    assert_eq!(owner(&st, U), Some(app(A1)));
    let out = clock(&mut st, 1);
    expect(
        &out,
        now_answer(T0 + 1_000 + 259_200_000),
        vec![],
        vec![],
        Rule::Exp1,
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn exp_2_a_short_extension_never_shortens_the_deadline() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    let out = gr(&mut st, A1, extend(U, 1));
    expect(&out, ok(), vec![], vec![], Rule::Exp2);
    assert_eq!(deadline(&st, U), T0 + DAY, "max(deadline, now + 1 s)");
}

#[test]
fn exp_2_bounds_of_duration_are_accepted() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    let out = gr(&mut st, A0, extend(U, 604_800));
    expect(&out, ok(), vec![], vec![], Rule::Exp2);
    assert_eq!(deadline(&st, U), T0 + 604_800_000);
    // A later, smaller extension keeps the larger deadline.
    clock(&mut st, 10_000);
    let out = gr(&mut st, A0, extend(U, 86_400 * 2));
    expect(&out, ok(), vec![], vec![], Rule::Exp2);
    assert_eq!(deadline(&st, U), T0 + 604_800_000);
}

#[test]
fn exp_3_extend_while_the_page_inbox_owns_is_refused() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            extend(U, 3_600),
            GraphError::NOT_OWNER,
            Rule::Exp3,
        );
    }
}

#[test]
fn exp_3_non_owner_extend_is_refused_like_release() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    for a in [A0, A2] {
        refused_call(
            &mut st,
            a,
            extend(U, 3_600),
            GraphError::NOT_OWNER,
            Rule::Exp3,
        );
    }
    idle(&mut st, U);
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            extend(U, 3_600),
            GraphError::INVALID,
            Rule::Exp3,
        );
    }
}

#[test]
fn exp_3_duration_out_of_range_is_refused() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    for d in [0, -1, -604_800, 604_801, i64::MAX, i64::MIN] {
        refused_call(&mut st, A0, extend(U, d), GraphError::INVALID, Rule::Exp3);
    }
}

#[test]
fn exp_3_duration_not_an_integer_is_refused() {
    // `1.5`, `"abc"`, `true`, null: the decoder reports DurationNotInteger.
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A0,
        malformed(Edge::ExtendThreadControl, Defect::DurationNotInteger),
        GraphError::INVALID,
        Rule::Exp3,
    );
}

#[test]
fn exp_3_a_duration_with_a_fraction_a_boolean_or_null_is_refused() {
    // Precise point 5: `1.5`, `true` and null are 100; the decoder names
    // each (DurationFloat, DurationBool, DurationNull), EXP-3 decides.
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    for defect in [
        Defect::DurationFloat,
        Defect::DurationBool,
        Defect::DurationNull,
    ] {
        let out = refused_call(
            &mut st,
            A0,
            malformed(Edge::ExtendThreadControl, defect),
            GraphError::INVALID,
            Rule::Exp3,
        );
        assert_rule(&out, Rule::Input1);
        // The owner could have extended; a non-owner would have got 10.
        refused_call(
            &mut st,
            A1,
            malformed(Edge::ExtendThreadControl, defect),
            GraphError::INVALID,
            Rule::Exp3,
        );
    }
}

#[test]
fn exp_3_duration_missing_is_refused() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A0,
        malformed(Edge::ExtendThreadControl, Defect::DurationMissing),
        GraphError::INVALID,
        Rule::Input1,
    );
}

#[test]
fn exp_3_bad_duration_is_checked_before_psid_and_ownership() {
    // Parameters (step 5) come before the PSID (6) and the rules (7).
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    refused_call(&mut st, A1, extend(U, 0), GraphError::INVALID, Rule::Exp3);
    refused_call(
        &mut st,
        A1,
        extend("424242", 0),
        GraphError::INVALID,
        Rule::Exp3,
    );
    refused_call(
        &mut st,
        A1,
        extend("424242", 60),
        GraphError::UNKNOWN_PSID,
        Rule::Input1,
    );
}

// ===========================================================================
// PRI

#[test]
fn pri_1_the_page_inbox_cannot_be_primary_at_reset() {
    let apps = vec![AppSpec {
        app_id: "5550".into(),
        name: "a".into(),
        human_agent: false,
        require_appsecret_proof: false,
    }];
    assert!(Setup::new(PAGE_ID.into(), T0, apps.clone(), Some(PAGE_INBOX_APP_ID)).is_err());
    assert!(Setup::new(PAGE_ID.into(), T0, apps.clone(), Some("9999")).is_err());
    let ok = Setup::new(PAGE_ID.into(), T0, apps.clone(), None).unwrap();
    assert_eq!(ok.primary, None, "a primary receiver is optional");
    let ok = Setup::new(PAGE_ID.into(), T0, apps, Some("5550")).unwrap();
    assert_eq!(ok.primary, Some(A0));
}

#[test]
fn pri_1_roles_refuses_the_page_inbox_and_unknown_apps() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    for p in [AppRef::PageInbox, AppRef::Unknown("9999".into())] {
        let out = control_refused(&mut st, Op::Roles { primary: Some(p) });
        assert_rule(&out, Rule::Pri1);
    }
    assert_eq!(st.primary, Some(A0));
}

#[test]
fn pri_1_there_is_at_most_one_primary() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A2);
    let out = roles(&mut st, Some(to_app(A1)));
    assert_rule(&out, Rule::Pri1);
    assert_eq!(st.primary, Some(A1));
    // A0 lost the primary's powers, A1 has them.
    refused_call(
        &mut st,
        A0,
        take(U, None),
        GraphError::NOT_OWNER,
        Rule::Take3,
    );
    let out = gr(&mut st, A1, take(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A2, U, T0, take_ev(app(A2), app(A1), None))],
        vec![],
        Rule::Take2,
    );
}

#[test]
fn pri_1_secondary_receivers_lists_every_app_but_the_primary() {
    // wire.md: `secondary_receivers` is for the primary only; the Page Inbox
    // is never listed.
    let mut st = page(4).primary(A1).build();
    let before = st.clone();
    let out = gr(&mut st, A1, Call::SecondaryReceivers { platform: None });
    expect(
        &out,
        Answer::Graph(Ok(GraphSuccess::SecondaryReceivers(vec![A0, A2, A3]))),
        vec![],
        vec![],
        Rule::Pri1,
    );
    assert_eq!(st, before);
    for a in [A0, A2, A3] {
        refused_call(
            &mut st,
            a,
            Call::SecondaryReceivers { platform: None },
            GraphError::NOT_ALLOWED,
            Rule::Pri1,
        );
    }
}

#[test]
fn pri_1_secondary_receivers_without_primary_is_refused_for_everyone() {
    // Decided point: no primary set → 400/10 for everyone.
    let mut st = page(3).build();
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            Call::SecondaryReceivers { platform: None },
            GraphError::NOT_ALLOWED,
            Rule::Pri1,
        );
    }
}

#[test]
fn pri_2_user_message_on_idle_thread_goes_to_the_primary() {
    let mut st = page(3).primary(A1).build();
    clock(&mut st, 2_000);
    let out = user_msg(&mut st, U, "first words");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0 + 2_000, |_| {
            message_ev(&mid, "first words")
        }),
        vec![],
        Rule::Pri2,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(deadline(&st, U), T0 + 2_000 + DAY);
    assert_eq!(folder(&st, U), Folder::Main);
}

#[test]
fn pri_2_applies_to_an_idle_thread_in_the_done_folder() {
    // Decided point: PRI-2 still applies to an idle `done` thread.
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    inbox(&mut st, U, InboxAction::MarkDone);
    assert_eq!(folder(&st, U), Folder::Done);
    let out = user_msg(&mut st, U, "back again");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0, |_| message_ev(&mid, "back again")),
        vec![],
        Rule::Pri2,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(folder(&st, U), Folder::Main);
}

#[test]
fn pri_3_without_primary_a_message_leaves_the_thread_idle_and_all_get_messaging() {
    let mut st = page(4).build();
    know(&mut st, U);
    clock(&mut st, 1_000);
    let out = user_msg(&mut st, U, "anyone?");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL4, &ALL4, U, T0 + 1_000, |_| message_ev(&mid, "anyone?")),
        vec![],
        Rule::Pri3,
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn pri_4_after_a_release_the_thread_stays_idle_until_the_next_message() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A2);
    let out = gr(&mut st, A2, release(U));
    expect(&out, ok(), vec![], vec![], Rule::Pri4);
    assert_eq!(owner(&st, U), None, "not given to the primary");
    let out = gr(&mut st, A0, owner_query(U));
    expect(&out, owner_view(None), vec![], vec![], Rule::Auth4);
    clock(&mut st, 3 * DAY);
    assert_eq!(owner(&st, U), None);
    let out = user_msg(&mut st, U, "hi again");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0 + 3 * DAY, |_| {
            message_ev(&mid, "hi again")
        }),
        vec![],
        Rule::Pri2,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn pri_4_after_a_lapse_the_thread_stays_idle_until_the_next_message() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    let out = clock(&mut st, DAY);
    expect(&out, now_answer(T0 + DAY), vec![], vec![], Rule::Pri4);
    assert_eq!(owner(&st, U), None);
    let out = user_msg(&mut st, U, "hello?");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0 + DAY, |_| message_ev(&mid, "hello?")),
        vec![],
        Rule::Pri2,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn pri_5_changing_the_primary_tells_every_app_its_own_role() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A2);
    clock(&mut st, 8_000);
    let out = roles(&mut st, Some(to_app(A1)));
    expect(
        &out,
        ctl_ok(),
        vec![
            app_roles(A0, T0 + 8_000, false),
            app_roles(A1, T0 + 8_000, true),
            app_roles(A2, T0 + 8_000, false),
        ],
        vec![],
        Rule::Pri5,
    );
    assert_eq!(st.primary, Some(A1));
    assert_eq!(
        owner(&st, U),
        Some(app(A2)),
        "existing owners do not change"
    );
    // The new primary is the one PRI-2 uses from now on.
    let out = user_msg(&mut st, V, "new user");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], V, T0 + 8_000, |_| {
            message_ev(&mid, "new user")
        }),
        vec![],
        Rule::Pri2,
    );
    assert_eq!(owner(&st, V), Some(app(A1)));
}

#[test]
fn pri_5_setting_a_first_primary() {
    let mut st = page(2).build();
    let out = roles(&mut st, Some(to_app(A0)));
    expect(
        &out,
        ctl_ok(),
        vec![app_roles(A0, T0, true), app_roles(A1, T0, false)],
        vec![],
        Rule::Pri5,
    );
    assert_eq!(st.primary, Some(A0));
}

#[test]
fn pri_5_setting_the_same_primary_again_sends_nothing() {
    let mut st = page(3).primary(A1).build();
    let before = st.clone();
    let out = roles(&mut st, Some(to_app(A1)));
    expect(&out, ctl_ok(), vec![], vec![], Rule::Pri5);
    assert_eq!(st, before);
    let mut st = page(3).build();
    let out = roles(&mut st, None);
    expect(&out, ctl_ok(), vec![], vec![], Rule::Pri5);
}

#[test]
fn pri_5_unsetting_the_primary_tells_every_app_it_is_secondary() {
    // Decided point: setting the primary to null tells every app
    // ["secondary_receiver"].
    let mut st = page(3).primary(A2).build();
    know(&mut st, U);
    let out = roles(&mut st, None);
    expect(
        &out,
        ctl_ok(),
        vec![
            app_roles(A0, T0, false),
            app_roles(A1, T0, false),
            app_roles(A2, T0, false),
        ],
        vec![],
        Rule::Pri5,
    );
    assert_eq!(st.primary, None);
    assert_eq!(owner(&st, U), Some(app(A2)));
}

// ===========================================================================
// HOOK

#[test]
fn hook_1_owner_gets_messaging_every_other_app_standby() {
    let mut st = page(4).build();
    owned_by(&mut st, U, A2);
    clock(&mut st, 1_000);
    let out = user_msg(&mut st, U, "question");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL4, &[A2], U, T0 + 1_000, |_| {
            message_ev(&mid, "question")
        }),
        vec![],
        Rule::Hook1,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
}

#[test]
fn hook_1_when_the_page_inbox_owns_all_apps_get_standby() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    clock(&mut st, 1_000);
    let out = user_msg(&mut st, U, "for the human");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[], U, T0 + 1_000, |_| {
            message_ev(&mid, "for the human")
        }),
        vec![],
        Rule::Hook1,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn hook_1_when_the_thread_stays_idle_all_apps_get_messaging() {
    let mut st = page(3).build();
    let out = user_msg(&mut st, U, "hello page");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &ALL3, U, T0, |_| message_ev(&mid, "hello page")),
        vec![],
        Rule::Hook1,
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn hook_1_the_owner_is_decided_after_the_events_own_control_change() {
    let mut st = page(4).primary(A3).build();
    let out = user_msg(&mut st, U, "new user");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL4, &[A3], U, T0, |_| message_ev(&mid, "new user")),
        vec![],
        Rule::Hook1,
    );
}

#[test]
fn hook_2_standby_postback_has_no_payload() {
    let mut st = page(3).build();
    know(&mut st, U);
    let out = gr(
        &mut st,
        A0,
        buttons(
            U,
            "How can we help?",
            &[("Talk to agent", "AGENT"), ("FAQ", "FAQ")],
        ),
    );
    assert!(!out.is_refusal());
    assert_eq!(gr(&mut st, A1, take(U, None)).answer, ok());
    clock(&mut st, 1_000);
    let out = run(&mut st, click_op(U, 0, "AGENT", Some("Talk to agent")));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0 + 1_000, |ch| {
            postback_ev(
                &mid,
                "Talk to agent",
                (ch == Channel::Messaging).then_some("AGENT"),
            )
        }),
        vec![],
        Rule::Hook2,
    );
}

#[test]
fn hook_2_standby_menu_postback_has_no_payload() {
    let mut st = page(3).primary(A0).build();
    let out = gr(
        &mut st,
        A0,
        Call::SetPageMenu {
            items: choices(&[("Help", "HELP")]),
            platform: None,
        },
    );
    assert_eq!(out.answer, result_ok());
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    let out = run(&mut st, menu_op(U, "HELP", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0, |ch| {
            postback_ev(&mid, "Help", (ch == Channel::Messaging).then_some("HELP"))
        }),
        vec![],
        Rule::Hook2,
    );
}

#[test]
fn hook_2_quick_reply_payload_is_kept_on_standby() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    let out = quick_reply(&mut st, U, "Yes please", "QR_YES");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0, |_| {
            quick_reply_ev(&mid, "Yes please", "QR_YES")
        }),
        vec![],
        Rule::Hook2,
    );
}

#[test]
fn hook_3_handover_events_go_on_messaging_only_to_the_named_app() {
    let mut st = page(4).primary(A0).build();
    idle(&mut st, U);
    let out = gr(&mut st, A1, request(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_ev(app(A1), None, None))],
        vec![],
        Rule::Hook3,
    );
    let out = gr(&mut st, A2, request(U, Some("m")));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, request_ev(A2, Some("m")))],
        vec![],
        Rule::Hook3,
    );
    let out = gr(&mut st, A1, pass_to(U, A2));
    expect(
        &out,
        ok(),
        vec![handover(A2, U, T0, pass_ev(app(A2), Some(app(A1)), None))],
        vec![],
        Rule::Hook3,
    );
    let out = gr(&mut st, A0, take(U, None));
    expect(
        &out,
        ok(),
        vec![handover(A2, U, T0, take_ev(app(A2), app(A0), None))],
        vec![],
        Rule::Hook3,
    );
    let out = inbox(&mut st, U, InboxAction::MoveToMain);
    expect(
        &out,
        ctl_ok(),
        vec![handover(A0, U, T0, take_ev(app(A0), INBOX, None))],
        vec![],
        Rule::Hook3,
    );
    let out = inbox(&mut st, U, InboxAction::MarkDone);
    expect(
        &out,
        ctl_ok(),
        vec![handover(A0, U, T0, pass_ev(app(A0), Some(INBOX), None))],
        vec![],
        Rule::Hook3,
    );
}

#[test]
fn hook_4_every_delivery_is_addressed_to_one_subscribed_app() {
    // The signature itself is computed on the wire (keyed with the receiving
    // app's secret); the model's part is that every delivery names exactly
    // one receiving app of the page and that the step records HOOK-4.
    let mut st = page(3).primary(A0).build();
    let ops = vec![
        user_msg_op(U, "hi"),
        graph_op(A0, pass_to(U, A1)),
        graph_op(A2, request(U, Some("m"))),
        graph_op(A0, take(U, None)),
        inbox_op(U, InboxAction::MoveToMain),
        inbox_op(U, InboxAction::MarkDone),
        ad_entry_op(U, to_app(A2), "ad", "from ad"),
        Op::Roles {
            primary: Some(to_app(A1)),
        },
    ];
    let mut total = 0;
    for op in ops {
        let out = run(&mut st, op.clone());
        assert!(!out.is_refusal(), "{op}: {out:#?}");
        assert!(!out.deliveries.is_empty(), "{op} should deliver something");
        assert_rule(&out, Rule::Hook4);
        for d in &out.deliveries {
            assert!(d.app.index() < st.setup.apps.len(), "{op}: {d:?}");
        }
        total += out.deliveries.len();
    }
    assert_eq!(total, 3 + 1 + 1 + 1 + 1 + 1 + 3 + 3);
}

#[test]
fn hook_5_steps_no_rule_names_deliver_nothing() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    let silent: Vec<Op> = vec![
        graph_op(A0, release(U)),
        graph_op(A1, take(U, Some("quiet"))),
        graph_op(A1, extend(U, 7_200)),
        graph_op(A1, text(U, "hi")),
        graph_op(A2, survey(U, None)),
        graph_op(A1, owner_query(U)),
        graph_op(A0, Call::SecondaryReceivers { platform: None }),
        graph_op(
            A0,
            Call::SetPageMenu {
                items: choices(&[("a", "a")]),
                platform: None,
            },
        ),
        graph_op(
            A1,
            Call::SetUserMenu {
                psid: U.into(),
                items: choices(&[("b", "b")]),
            },
        ),
        graph_op(A1, pass(U, Some(AppRef::PageInbox), Some("m"))),
        graph_op(A2, request(U, Some("m"))),
        inbox_op(U, InboxAction::MoveToMain),
        inbox_op(U, reply("admin here")),
        Op::Clock { advance_ms: DAY },
        inbox_op(U, InboxAction::MarkDone),
        inbox_op(U, reply("done but replying")),
        Op::Roles {
            primary: Some(to_app(A0)),
        },
    ];
    for op in silent {
        let out = run(&mut st, op.clone());
        assert!(!out.is_refusal(), "{op}: {out:#?}");
        assert_hooks(&out, vec![]);
        assert_rule(&out, Rule::Hook5);
    }
}

#[test]
fn hook_5_each_user_event_reaches_each_app_exactly_once() {
    let mut st = page(4).primary(A0).build();
    let out = gr(
        &mut st,
        A0,
        Call::SetPageMenu {
            items: choices(&[("m", "m")]),
            platform: None,
        },
    );
    assert_eq!(out.answer, result_ok());
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    assert!(!gr(&mut st, A1, buttons(U, "b", &[("x", "x")])).is_refusal());
    let ops = vec![
        user_msg_op(U, "m"),
        click_op(U, 0, "x", None),
        menu_op(U, "m", None),
        ad_entry_op(U, to_app(A3), "ad", "t"),
    ];
    for op in ops {
        let out = run(&mut st, op.clone());
        assert_rule(&out, Rule::Hook5);
        let mut apps: Vec<AppIx> = out.deliveries.iter().map(|d| d.app).collect();
        apps.sort();
        assert_eq!(apps, ALL4.to_vec(), "{op}");
    }
}

#[test]
fn hook_6_events_for_one_app_and_psid_arrive_in_the_order_they_happened() {
    let mut st = page(3).primary(A0).build();
    let mut per_app: Vec<Vec<(Channel, &'static str, u64)>> = vec![Vec::new(); 3];
    let ops = vec![
        user_msg_op(U, "one"),
        graph_op(A0, pass(U, Some(to_app(A1)), Some("m"))),
        user_msg_op(U, "two"),
        graph_op(A2, request(U, None)),
        graph_op(A0, take(U, None)),
        user_msg_op(U, "three"),
    ];
    for op in ops {
        clock(&mut st, 10);
        let out = run(&mut st, op);
        assert_rule(&out, Rule::Hook6);
        for d in out.deliveries {
            per_app[d.app.index()].push((d.channel, d.event.kind.name(), d.event.timestamp));
        }
    }
    use Channel::{Messaging as M, Standby as S};
    let t = |n: u64| T0 + 10 * n;
    assert_eq!(
        per_app[0],
        vec![
            (M, "message", t(1)),
            (S, "message", t(3)),
            (M, "message", t(6)),
        ]
    );
    assert_eq!(
        per_app[1],
        vec![
            (S, "message", t(1)),
            (M, "pass_thread_control", t(2)),
            (M, "message", t(3)),
            (M, "request_thread_control", t(4)),
            (M, "take_thread_control", t(5)),
            (S, "message", t(6)),
        ]
    );
    assert_eq!(
        per_app[2],
        vec![
            (S, "message", t(1)),
            (S, "message", t(3)),
            (S, "message", t(6))
        ]
    );
}

// ===========================================================================
// INBOX

#[test]
fn inbox_1_move_to_main_takes_control_from_the_owner_app() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    clock(&mut st, 1_000);
    let out = inbox(&mut st, U, InboxAction::MoveToMain);
    expect(
        &out,
        ctl_ok(),
        vec![handover(A1, U, T0 + 1_000, take_ev(app(A1), INBOX, None))],
        vec![],
        Rule::Inbox1,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(folder(&st, U), Folder::Main);
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn inbox_1_move_to_main_from_the_done_folder() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    inbox(&mut st, U, InboxAction::MarkDone);
    assert_eq!(
        (owner(&st, U), folder(&st, U)),
        (Some(app(A0)), Folder::Done)
    );
    let out = inbox(&mut st, U, InboxAction::MoveToMain);
    expect(
        &out,
        ctl_ok(),
        vec![handover(A0, U, T0, take_ev(app(A0), INBOX, None))],
        vec![],
        Rule::Inbox1,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(folder(&st, U), Folder::Main);
}

#[test]
fn inbox_1_move_to_main_on_an_idle_thread_sends_nothing() {
    let mut st = page(3).build();
    know(&mut st, U);
    let out = inbox(&mut st, U, InboxAction::MoveToMain);
    expect(&out, ctl_ok(), vec![], vec![], Rule::Inbox1);
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn inbox_1_already_owned_by_the_page_inbox_sends_nothing() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    clock(&mut st, 1_000);
    let before = st.clone();
    let out = inbox(&mut st, U, InboxAction::MoveToMain);
    expect(&out, ctl_ok(), vec![], vec![], Rule::Inbox1);
    assert_eq!(st, before);
}

#[test]
fn inbox_1_inbox_actions_on_an_unknown_psid_are_control_errors() {
    // control-api.md: `inbox` on a PSID the page never heard from → 400.
    let mut st = page(2).build();
    for action in [InboxAction::MoveToMain, reply("hi"), InboxAction::MarkDone] {
        control_refused(&mut st, inbox_op("31337", action));
    }
    assert!(st.thread("31337").is_none());
}

#[test]
fn inbox_2_a_reply_takes_control_then_reaches_the_user() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    clock(&mut st, 1_000);
    let out = inbox(&mut st, U, reply("Hi, this is Ann"));
    let mid = transcript(&st, U).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![handover(A1, U, T0 + 1_000, take_ev(app(A1), INBOX, None))],
        vec![(U, entry(&mid, INBOX, MessageKind::Text, "Hi, this is Ann"))],
        Rule::Inbox2,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
    assert_eq!(folder(&st, U), Folder::Main);
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn inbox_2_a_reply_on_an_idle_thread_takes_control_silently() {
    let mut st = page(3).build();
    know(&mut st, U);
    let out = inbox(&mut st, U, reply("hello"));
    let mid = transcript(&st, U).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(U, entry(&mid, INBOX, MessageKind::Text, "hello"))],
        Rule::Inbox2,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
}

#[test]
fn inbox_2_a_reply_when_the_page_inbox_already_owns() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    let out = inbox(&mut st, U, reply("more"));
    let mid = transcript(&st, U).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(U, entry(&mid, INBOX, MessageKind::Text, "more"))],
        Rule::Inbox2,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
}

#[test]
fn inbox_3_a_reply_in_the_done_folder_keeps_the_app_owner() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    inbox(&mut st, U, InboxAction::MarkDone);
    assert_eq!(folder(&st, U), Folder::Done);
    clock(&mut st, 1_000);
    let out = inbox(&mut st, U, reply("closing note"));
    let mid = transcript(&st, U).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(U, entry(&mid, INBOX, MessageKind::Text, "closing note"))],
        Rule::Inbox3,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(folder(&st, U), Folder::Done);
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn inbox_3_a_reply_right_after_mark_done_leaves_the_primary_owner() {
    let mut st = page(3).primary(A2).build();
    inbox_owned(&mut st, U);
    inbox(&mut st, U, InboxAction::MarkDone);
    assert_eq!(owner(&st, U), Some(app(A2)));
    let out = inbox(&mut st, U, reply("bye"));
    let mid = transcript(&st, U).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(U, entry(&mid, INBOX, MessageKind::Text, "bye"))],
        Rule::Inbox3,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
}

#[test]
fn inbox_3_a_reply_right_after_mark_done_without_primary_leaves_it_idle() {
    let mut st = page(3).build();
    inbox_owned(&mut st, U);
    inbox(&mut st, U, InboxAction::MarkDone);
    assert_eq!(owner(&st, U), None);
    let out = inbox(&mut st, U, reply("bye"));
    let mid = transcript(&st, U).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(U, entry(&mid, INBOX, MessageKind::Text, "bye"))],
        Rule::Inbox3,
    );
    assert_eq!(owner(&st, U), None);
    assert_eq!(folder(&st, U), Folder::Done);
}

#[test]
fn inbox_4_mark_done_gives_page_inbox_control_to_the_primary() {
    let mut st = page(3).primary(A1).build();
    inbox_owned(&mut st, U);
    clock(&mut st, 1_000);
    let out = inbox(&mut st, U, InboxAction::MarkDone);
    expect(
        &out,
        ctl_ok(),
        vec![handover(
            A1,
            U,
            T0 + 1_000,
            pass_ev(app(A1), Some(INBOX), None),
        )],
        vec![],
        Rule::Inbox4,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(folder(&st, U), Folder::Done);
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn inbox_4_mark_done_without_primary_makes_the_thread_idle() {
    let mut st = page(3).build();
    inbox_owned(&mut st, U);
    let out = inbox(&mut st, U, InboxAction::MarkDone);
    expect(&out, ctl_ok(), vec![], vec![], Rule::Inbox4);
    assert_eq!(owner(&st, U), None);
    assert_eq!(folder(&st, U), Folder::Done);
}

#[test]
fn inbox_4_mark_done_on_an_app_owned_thread_only_moves_the_folder() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A2);
    let out = inbox(&mut st, U, InboxAction::MarkDone);
    expect(&out, ctl_ok(), vec![], vec![], Rule::Inbox4);
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(folder(&st, U), Folder::Done);
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn inbox_4_a_new_user_message_moves_the_folder_back_to_main_keeping_the_owner() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A2);
    inbox(&mut st, U, InboxAction::MarkDone);
    clock(&mut st, 1_000);
    let out = user_msg(&mut st, U, "one more thing");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A2], U, T0 + 1_000, |_| {
            message_ev(&mid, "one more thing")
        }),
        vec![],
        Rule::Inbox4,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(folder(&st, U), Folder::Main);
}

#[test]
fn inbox_4_an_ad_entry_also_moves_the_folder_back_to_main() {
    // Decided point: "a new user message" means `message` and `ad_entry`.
    let mut st = page(3).build();
    owned_by(&mut st, U, A2);
    inbox(&mut st, U, InboxAction::MarkDone);
    let out = run(&mut st, ad_entry_op(U, to_app(A2), "ad-9", "from the ad"));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A2], U, T0, |_| ad_ev(&mid, "from the ad", "ad-9")),
        vec![],
        Rule::Inbox4,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(folder(&st, U), Folder::Main);
}

#[test]
fn inbox_4_postbacks_and_menu_picks_leave_the_done_folder() {
    // Literal reading of the decided point: only `message` and `ad_entry`
    // move a `done` thread back to `main`.
    let mut st = page(3).build();
    let out = gr(
        &mut st,
        A0,
        Call::SetPageMenu {
            items: choices(&[("Menu", "MENU")]),
            platform: None,
        },
    );
    assert_eq!(out.answer, result_ok());
    owned_by(&mut st, U, A1);
    assert!(!gr(&mut st, A1, buttons(U, "b", &[("Go", "GO")])).is_refusal());
    inbox(&mut st, U, InboxAction::MarkDone);
    let out = run(&mut st, click_op(U, 0, "GO", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0, |ch| {
            postback_ev(&mid, "Go", (ch == Channel::Messaging).then_some("GO"))
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(folder(&st, U), Folder::Done);
    let out = run(&mut st, menu_op(U, "MENU", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0, |ch| {
            postback_ev(&mid, "Menu", (ch == Channel::Messaging).then_some("MENU"))
        }),
        vec![],
        Rule::Menu3,
    );
    assert_eq!(folder(&st, U), Folder::Done);
}

#[test]
fn inbox_4_a_brand_new_thread_starts_in_main() {
    let mut st = page(2).build();
    user_msg(&mut st, U, "hi");
    run(&mut st, ad_entry_op(V, to_app(A1), "ad", "hi"));
    assert_eq!(folder(&st, U), Folder::Main);
    assert_eq!(folder(&st, V), Folder::Main);
}

// ===========================================================================
// CTM

#[test]
fn ctm_1_ad_entry_makes_the_assigned_app_owner_whoever_owned() {
    // Decided point: standby copies of an ad entry keep `referral`.
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_eq!(owner(&st, U), Some(app(A0)));
    clock(&mut st, 1_000);
    let out = run(
        &mut st,
        ad_entry_op(U, to_app(A2), "ad-42", "I saw your ad"),
    );
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A2], U, T0 + 1_000, |_| {
            ad_ev(&mid, "I saw your ad", "ad-42")
        }),
        vec![],
        Rule::Ctm1,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn ctm_1_ad_entry_on_a_new_psid_goes_to_the_assigned_app_not_the_primary() {
    let mut st = page(3).primary(A0).build();
    let out = run(&mut st, ad_entry_op(U, to_app(A1), "ad-1", "hi"));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0, |_| ad_ev(&mid, "hi", "ad-1")),
        vec![],
        Rule::Ctm1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(deadline(&st, U), T0 + DAY);
    assert_eq!(folder(&st, U), Folder::Main);
}

#[test]
fn ctm_1_ad_entry_overrides_the_page_inbox() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    let out = run(&mut st, ad_entry_op(U, to_app(A1), "ad-2", "again"));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0, |_| ad_ev(&mid, "again", "ad-2")),
        vec![],
        Rule::Ctm1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn ctm_1_ad_entry_for_the_current_owner_is_mere_activity() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    assert_eq!(gr(&mut st, A1, extend(U, 300_000)).answer, ok());
    clock(&mut st, 5_000);
    let out = run(&mut st, ad_entry_op(U, to_app(A1), "ad-3", "hey"));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0 + 5_000, |_| ad_ev(&mid, "hey", "ad-3")),
        vec![],
        Rule::Ctm1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(
        deadline(&st, U),
        T0 + 300_000_000,
        "no change of owner: max"
    );
}

#[test]
fn ctm_1_ad_entry_for_an_app_that_is_not_subscribed_is_a_control_error() {
    let mut st = page(2).build();
    control_refused(
        &mut st,
        ad_entry_op(U, AppRef::Unknown("4040".into()), "ad", "x"),
    );
    control_refused(&mut st, ad_entry_op(U, AppRef::PageInbox, "ad", "x"));
    assert!(st.thread(U).is_none());
}

// ===========================================================================
// MENU

fn page_menu_call(items: &[(&str, &str)]) -> Call {
    Call::SetPageMenu {
        items: choices(items),
        platform: None,
    }
}

fn user_menu_call(psid: &str, items: &[(&str, &str)]) -> Call {
    Call::SetUserMenu {
        psid: psid.into(),
        items: choices(items),
    }
}

#[test]
fn menu_1_without_primary_any_app_sets_or_deletes_the_page_menu() {
    let mut st = page(3).build();
    let out = gr(&mut st, A2, page_menu_call(&[("Shop", "SHOP")]));
    expect(&out, result_ok(), vec![], vec![], Rule::Menu1);
    assert_eq!(
        st.page_menu,
        Some(MenuState {
            set_by: A2,
            items: choices(&[("Shop", "SHOP")])
        })
    );
    let out = gr(&mut st, A1, page_menu_call(&[("Help", "HELP")]));
    expect(&out, result_ok(), vec![], vec![], Rule::Menu1);
    assert_eq!(st.page_menu.as_ref().map(|m| m.set_by), Some(A1));
    let out = gr(&mut st, A0, Call::DeletePageMenu { platform: None });
    expect(&out, result_ok(), vec![], vec![], Rule::Menu1);
    assert_eq!(st.page_menu, None);
}

#[test]
fn menu_1_with_a_primary_only_the_primary_sets_or_deletes_the_page_menu() {
    let mut st = page(3).primary(A1).build();
    for a in [A0, A2] {
        refused_call(
            &mut st,
            a,
            page_menu_call(&[("x", "x")]),
            GraphError::NOT_ALLOWED,
            Rule::Menu1,
        );
        refused_call(
            &mut st,
            a,
            Call::DeletePageMenu { platform: None },
            GraphError::NOT_ALLOWED,
            Rule::Menu1,
        );
    }
    let out = gr(&mut st, A1, page_menu_call(&[("Bot", "BOT")]));
    expect(&out, result_ok(), vec![], vec![], Rule::Menu1);
    assert_eq!(st.page_menu.as_ref().map(|m| m.set_by), Some(A1));
    refused_call(
        &mut st,
        A0,
        Call::DeletePageMenu { platform: None },
        GraphError::NOT_ALLOWED,
        Rule::Menu1,
    );
    let out = gr(&mut st, A1, Call::DeletePageMenu { platform: None });
    expect(&out, result_ok(), vec![], vec![], Rule::Menu1);
    assert_eq!(st.page_menu, None);
}

#[test]
fn menu_2_the_owner_sets_and_deletes_the_user_menu() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    let out = gr(&mut st, A1, user_menu_call(U, &[("Agent", "AGENT")]));
    expect(&out, result_ok(), vec![], vec![], Rule::Menu2);
    assert_eq!(
        st.thread(U).unwrap().user_menu,
        Some(MenuState {
            set_by: A1,
            items: choices(&[("Agent", "AGENT")])
        })
    );
    let out = gr(&mut st, A1, Call::DeleteUserMenu { psid: U.into() });
    expect(&out, result_ok(), vec![], vec![], Rule::Menu2);
    assert_eq!(st.thread(U).unwrap().user_menu, None);
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn menu_2_any_app_sets_a_user_menu_on_an_idle_thread() {
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    let out = gr(&mut st, A2, user_menu_call(U, &[("A", "A")]));
    expect(&out, result_ok(), vec![], vec![], Rule::Menu2);
    let out = gr(&mut st, A1, user_menu_call(U, &[("B", "B")]));
    expect(&out, result_ok(), vec![], vec![], Rule::Menu2);
    assert_eq!(
        st.thread(U).unwrap().user_menu,
        Some(MenuState {
            set_by: A1,
            items: choices(&[("B", "B")])
        })
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn menu_2_deleting_a_user_menu_on_an_idle_thread_is_refused() {
    let mut st = page(3).build();
    know(&mut st, U);
    assert_eq!(
        gr(&mut st, A2, user_menu_call(U, &[("A", "A")])).answer,
        result_ok()
    );
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            Call::DeleteUserMenu { psid: U.into() },
            GraphError::NOT_ALLOWED,
            Rule::Menu2,
        );
    }
}

#[test]
fn menu_2_a_non_owner_cannot_set_or_delete_the_user_menu() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    for a in [A0, A2] {
        refused_call(
            &mut st,
            a,
            user_menu_call(U, &[("x", "x")]),
            GraphError::NOT_ALLOWED,
            Rule::Menu2,
        );
        refused_call(
            &mut st,
            a,
            Call::DeleteUserMenu { psid: U.into() },
            GraphError::NOT_ALLOWED,
            Rule::Menu2,
        );
    }
    inbox_owned(&mut st, U);
    for a in ALL3 {
        refused_call(
            &mut st,
            a,
            user_menu_call(U, &[("x", "x")]),
            GraphError::NOT_ALLOWED,
            Rule::Menu2,
        );
    }
}

#[test]
fn menu_3_the_user_menu_setter_gets_control() {
    let mut st = page(3).build();
    assert_eq!(
        gr(&mut st, A0, page_menu_call(&[("Shop", "SHOP")])).answer,
        result_ok()
    );
    know(&mut st, U);
    assert_eq!(
        gr(&mut st, A1, user_menu_call(U, &[("Agent", "AGENT")])).answer,
        result_ok()
    );
    assert_eq!(gr(&mut st, A2, take(U, None)).answer, ok());
    clock(&mut st, 1_000);
    let out = run(&mut st, menu_op(U, "AGENT", Some("Agent")));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0 + 1_000, |ch| {
            postback_ev(&mid, "Agent", (ch == Channel::Messaging).then_some("AGENT"))
        }),
        vec![],
        Rule::Menu3,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(deadline(&st, U), T0 + 1_000 + DAY);
}

#[test]
fn menu_3_without_a_user_menu_the_page_menu_setter_gets_control() {
    let mut st = page(3).primary(A0).build();
    assert_eq!(
        gr(&mut st, A0, page_menu_call(&[("Shop", "SHOP")])).answer,
        result_ok()
    );
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A2);
    let out = run(&mut st, menu_op(U, "SHOP", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0, |ch| {
            postback_ev(&mid, "Shop", (ch == Channel::Messaging).then_some("SHOP"))
        }),
        vec![],
        Rule::Menu3,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn menu_3_after_the_user_menu_is_deleted_the_page_menu_applies() {
    let mut st = page(3).build();
    assert_eq!(
        gr(&mut st, A2, page_menu_call(&[("Shop", "SHOP")])).answer,
        result_ok()
    );
    owned_by(&mut st, U, A1);
    assert_eq!(
        gr(&mut st, A1, user_menu_call(U, &[("Agent", "AGENT")])).answer,
        result_ok()
    );
    assert_eq!(
        gr(&mut st, A1, Call::DeleteUserMenu { psid: U.into() }).answer,
        result_ok()
    );
    let out = run(&mut st, menu_op(U, "SHOP", Some("Shop")));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A2], U, T0, |ch| {
            postback_ev(&mid, "Shop", (ch == Channel::Messaging).then_some("SHOP"))
        }),
        vec![],
        Rule::Menu3,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
}

#[test]
fn menu_3_payload_is_not_checked_and_a_missing_title_falls_back() {
    // control-api.md: only "no menu in force" is an error; `menu` without
    // `title` takes the menu item's title (or "").
    let mut st = page(2).build();
    assert_eq!(
        gr(&mut st, A1, page_menu_call(&[("Shop", "SHOP")])).answer,
        result_ok()
    );
    know(&mut st, U);
    let out = run(&mut st, menu_op(U, "NOT_IN_MENU", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&[A0, A1], &[A1], U, T0, |ch| {
            postback_ev(
                &mid,
                "",
                (ch == Channel::Messaging).then_some("NOT_IN_MENU"),
            )
        }),
        vec![],
        Rule::Menu3,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn menu_3_no_menu_in_force_is_a_control_error() {
    let mut st = page(2).build();
    know(&mut st, U);
    control_refused(&mut st, menu_op(U, "X", Some("X")));
    control_refused(&mut st, menu_op("31337", "X", None));
}

// ===========================================================================
// CTA

#[test]
fn cta_1_a_click_gives_control_to_the_app_that_sent_the_button() {
    let mut st = page(3).primary(A2).build();
    idle(&mut st, U);
    let out = gr(
        &mut st,
        A0,
        buttons(U, "Pick", &[("Order", "ORDER"), ("Cancel", "CANCEL")]),
    );
    let sent_mid = sent_mid(&out);
    assert_eq!(gr(&mut st, A1, take(U, None)).answer, ok());
    clock(&mut st, 2_000);
    let out = run(&mut st, click_op(U, 0, "CANCEL", Some("Cancel")));
    let mid = event_mid(&out);
    assert_ne!(mid, sent_mid, "the click is an event of its own");
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0 + 2_000, |ch| {
            postback_ev(
                &mid,
                "Cancel",
                (ch == Channel::Messaging).then_some("CANCEL"),
            )
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + 2_000 + DAY);
}

#[test]
fn cta_1_a_click_on_an_idle_thread_goes_to_the_sender_not_the_primary() {
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    assert!(!gr(&mut st, A2, buttons(U, "b", &[("Book", "BOOK")])).is_refusal());
    let out = run(&mut st, click_op(U, 0, "BOOK", Some("Book")));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A2], U, T0, |ch| {
            postback_ev(&mid, "Book", (ch == Channel::Messaging).then_some("BOOK"))
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn cta_1_a_click_without_title_takes_the_buttons_title() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A1);
    assert!(!gr(&mut st, A1, buttons(U, "Pick", &[("Yes please", "Y")])).is_refusal());
    assert_eq!(gr(&mut st, A1, release(U)).answer, ok());
    let out = run(&mut st, click_op(U, 0, "Y", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&[A0, A1], &[A1], U, T0, |ch| {
            postback_ev(
                &mid,
                "Yes please",
                (ch == Channel::Messaging).then_some("Y"),
            )
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn cta_1_the_sender_of_that_very_message_gets_control() {
    let mut st = page(3).build();
    know(&mut st, U);
    assert!(!gr(&mut st, A0, buttons(U, "first", &[("Go", "GO")])).is_refusal());
    assert_eq!(gr(&mut st, A2, take(U, None)).answer, ok());
    assert!(!gr(&mut st, A2, buttons(U, "second", &[("Go", "GO")])).is_refusal());
    let out = run(&mut st, click_op(U, 0, "GO", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A0], U, T0, |ch| {
            postback_ev(&mid, "Go", (ch == Channel::Messaging).then_some("GO"))
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    let out = run(&mut st, click_op(U, 1, "GO", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A2], U, T0, |ch| {
            postback_ev(&mid, "Go", (ch == Channel::Messaging).then_some("GO"))
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A2)));
}

#[test]
fn cta_1_a_click_while_the_page_inbox_owns() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    assert!(!gr(&mut st, A1, buttons(U, "b", &[("Track", "TRACK")])).is_refusal());
    inbox_owned(&mut st, U);
    let out = run(&mut st, click_op(U, 0, "TRACK", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0, |ch| {
            postback_ev(&mid, "Track", (ch == Channel::Messaging).then_some("TRACK"))
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn cta_1_clicking_the_owners_own_button_is_activity() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    assert!(!gr(&mut st, A1, buttons(U, "b", &[("Ok", "OK")])).is_refusal());
    assert_eq!(gr(&mut st, A1, extend(U, 200_000)).answer, ok());
    clock(&mut st, 5_000);
    let out = run(&mut st, click_op(U, 0, "OK", None));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        fan_out(&ALL3, &[A1], U, T0 + 5_000, |ch| {
            postback_ev(&mid, "Ok", (ch == Channel::Messaging).then_some("OK"))
        }),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
    assert_eq!(deadline(&st, U), T0 + 200_000_000);
}

#[test]
fn cta_1_unknown_message_payload_or_psid_is_a_control_error() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A1);
    assert!(!gr(&mut st, A1, buttons(U, "b", &[("Ok", "OK")])).is_refusal());
    assert!(!gr(&mut st, A1, text(U, "plain")).is_refusal());
    inbox(&mut st, U, reply("from a person"));
    let ops = vec![
        click_op(U, 0, "NOPE", None),
        click_op(U, 1, "OK", None),
        click_op(U, 2, "OK", None),
        click_op(U, 9, "OK", None),
        Op::User(UserEvent::Postback {
            psid: U.into(),
            message: MsgRef::Unknown("m_unknown".into()),
            payload: "OK".into(),
            title: None,
            platform: Surface::Messenger,
        }),
        click_op("31337", 0, "OK", None),
    ];
    for op in ops {
        let out = control_refused(&mut st, op);
        assert_rule(&out, Rule::Cta1);
    }
    assert!(st.thread("31337").is_none());
}

// ===========================================================================
// SURVEY

#[test]
fn survey_1_a_non_owners_survey_is_accepted_but_held() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    let before = transcript(&st, U);
    let out = gr(&mut st, A1, survey(U, Some("How did we do?")));
    let mid = sent_mid(&out);
    expect(&out, sent(U, &mid), vec![], vec![], Rule::Survey1);
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + DAY);
    assert_eq!(transcript(&st, U), before, "nothing reached the user yet");
}

#[test]
fn survey_1_held_surveys_reach_the_user_on_release_in_order() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    let m1 = sent_mid(&gr(&mut st, A1, survey(U, Some("first"))));
    let m2 = sent_mid(&gr(&mut st, A2, survey(U, None)));
    let m3 = sent_mid(&gr(&mut st, A1, survey(U, Some("third"))));
    let out = gr(&mut st, A0, release(U));
    let expected = vec![
        entry(&m1, app(A1), MessageKind::Survey, "first"),
        entry(&m2, app(A2), MessageKind::Survey, ""),
        entry(&m3, app(A1), MessageKind::Survey, "third"),
    ];
    expect(
        &out,
        ok(),
        vec![],
        expected.iter().map(|e| (U, e.clone())).collect(),
        Rule::Survey1,
    );
    assert_eq!(transcript(&st, U), expected);
    assert_eq!(owner(&st, U), None);
    // Delivered once: the next idle moment delivers nothing more.
    assert_eq!(gr(&mut st, A2, take(U, None)).answer, ok());
    let out = gr(&mut st, A2, release(U));
    expect(&out, ok(), vec![], vec![], Rule::Rel1);
}

#[test]
fn survey_1_a_held_survey_reaches_the_user_when_control_lapses() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    clock(&mut st, 1_000);
    let m = sent_mid(&gr(&mut st, A2, survey(U, Some("Rate us"))));
    let out = clock(&mut st, DAY);
    expect(
        &out,
        now_answer(T0 + 1_000 + DAY),
        vec![],
        vec![(U, entry(&m, app(A2), MessageKind::Survey, "Rate us"))],
        Rule::Survey1,
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn survey_1_held_while_the_page_inbox_owns_until_mark_done_makes_it_idle() {
    let mut st = page(3).build();
    inbox_owned(&mut st, U);
    let m = sent_mid(&gr(&mut st, A0, survey(U, Some("CSAT"))));
    assert_eq!(transcript(&st, U), vec![]);
    let out = inbox(&mut st, U, InboxAction::MarkDone);
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(U, entry(&m, app(A0), MessageKind::Survey, "CSAT"))],
        Rule::Survey1,
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn survey_1_a_held_survey_waits_through_owner_changes() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    let m = sent_mid(&gr(&mut st, A1, survey(U, Some("s"))));
    // INBOX-4 with a primary: control goes to the primary, not idle.
    let out = inbox(&mut st, U, InboxAction::MarkDone);
    expect(
        &out,
        ctl_ok(),
        vec![handover(A0, U, T0, pass_ev(app(A0), Some(INBOX), None))],
        vec![],
        Rule::Inbox4,
    );
    let out = gr(&mut st, A0, pass_to(U, A1));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, pass_ev(app(A1), Some(app(A0)), None))],
        vec![],
        Rule::Pass1,
    );
    // The sender now owns the thread, but the survey waits for idle.
    let out = gr(&mut st, A1, release(U));
    expect(
        &out,
        ok(),
        vec![],
        vec![(U, entry(&m, app(A1), MessageKind::Survey, "s"))],
        Rule::Survey1,
    );
}

#[test]
fn survey_1_from_the_owner_or_on_an_idle_thread_is_delivered_at_once() {
    let mut st = page(3).build();
    know(&mut st, U);
    let out = gr(&mut st, A2, survey(U, Some("idle")));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A2), MessageKind::Survey, "idle"))],
        Rule::Survey1,
    );
    assert_eq!(owner(&st, U), None);
    owned_by(&mut st, U, A1);
    let out = gr(&mut st, A1, survey(U, None));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A1), MessageKind::Survey, ""))],
        Rule::Survey1,
    );
    assert_eq!(owner(&st, U), Some(app(A1)));
}

#[test]
fn survey_1_with_the_human_agent_tag_from_an_approved_app_is_delivered_at_once() {
    // Decided point: HA-1 over SURVEY-1.
    let mut st = page(3).human_agent(A2).build();
    owned_by(&mut st, U, A0);
    let call = Call::Send {
        psid: U.into(),
        messaging_type: MessagingType::MessageTag,
        tag: Some(HUMAN_AGENT_TAG.into()),
        message: Message::Survey {
            title: Some("Agent survey".into()),
        },
    };
    let out = gr(&mut st, A2, call);
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A2), MessageKind::Survey, "Agent survey"))],
        Rule::Ha1,
    );
    assert_rule(&out, Rule::Survey1);
    assert_eq!(owner(&st, U), Some(app(A0)));
    let out = gr(&mut st, A0, release(U));
    assert_received(&out, vec![]);
}

// ===========================================================================
// HA

#[test]
fn ha_1_an_approved_app_sends_without_owning_the_thread() {
    let mut st = page(3).primary(A0).human_agent(A2).build();
    know(&mut st, U);
    clock(&mut st, 1_000);
    let out = gr(&mut st, A2, human_agent_text(U, "Agent Bob here"));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A2), MessageKind::Text, "Agent Bob here"))],
        Rule::Ha1,
    );
    assert_eq!(owner(&st, U), Some(app(A0)));
    assert_eq!(deadline(&st, U), T0 + DAY);
}

#[test]
fn ha_1_while_the_page_inbox_owns() {
    let mut st = page(3).human_agent(A1).build();
    inbox_owned(&mut st, U);
    let out = gr(&mut st, A1, human_agent_text(U, "hi"));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A1), MessageKind::Text, "hi"))],
        Rule::Ha1,
    );
    assert_eq!(owner(&st, U), Some(INBOX));
}

#[test]
fn ha_1_on_an_idle_thread_the_thread_stays_idle() {
    let mut st = page(3).human_agent(A1).build();
    know(&mut st, U);
    let out = gr(&mut st, A1, human_agent_text(U, "hi"));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A1), MessageKind::Text, "hi"))],
        Rule::Ctrl3,
    );
    assert_eq!(owner(&st, U), None);
}

#[test]
fn ha_1_an_approved_app_without_the_tag_is_an_ordinary_non_owner() {
    let mut st = page(3).human_agent(A1).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A1,
        text(U, "untagged"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
}

#[test]
fn ha_2_the_tag_without_the_feature_is_refused_whoever_owns() {
    let mut st = page(3).primary(A0).human_agent(A2).build();
    know(&mut st, U);
    // Another app owns: 200, not 2018300 (HA-2 before ownership).
    refused_call(
        &mut st,
        A1,
        human_agent_text(U, "x"),
        GraphError::NO_PERMISSION,
        Rule::Ha2,
    );
    // The caller owns.
    refused_call(
        &mut st,
        A0,
        human_agent_text(U, "x"),
        GraphError::NO_PERMISSION,
        Rule::Ha2,
    );
    // Idle.
    idle(&mut st, U);
    refused_call(
        &mut st,
        A1,
        human_agent_text(U, "x"),
        GraphError::NO_PERMISSION,
        Rule::Ha2,
    );
    // The Page Inbox owns.
    inbox_owned(&mut st, U);
    refused_call(
        &mut st,
        A0,
        human_agent_text(U, "x"),
        GraphError::NO_PERMISSION,
        Rule::Ha2,
    );
    assert_eq!(GraphError::NO_PERMISSION, GraphError::new(200, None));
}

#[test]
fn ha_2_the_tag_with_another_messaging_type_is_an_ordinary_send() {
    let mut st = page(3).build();
    know(&mut st, U);
    let out = gr(
        &mut st,
        A1,
        tagged(U, MessagingType::Response, HUMAN_AGENT_TAG, "ok"),
    );
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A1), MessageKind::Text, "ok"))],
        Rule::Ctrl3,
    );
}

// ===========================================================================
// AUTH

fn op_as(caller: Caller, proof: Proof, call: Call) -> Op {
    Op::Graph(GraphOp {
        caller,
        proof,
        call,
        transport: Transport::default(),
    })
}

#[test]
fn auth_1_a_missing_token_gets_104() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    for call in [
        text(U, "x"),
        release(U),
        owner_query(U),
        Call::SecondaryReceivers { platform: None },
    ] {
        let out = refused(
            &mut st,
            op_as(Caller::Missing, Proof::Absent, call),
            GraphError::NO_TOKEN,
            Rule::Auth1,
        );
        let Answer::Graph(Err(e)) = out.answer else {
            unreachable!()
        };
        assert_eq!((e.status, e.code, e.subcode), (400, 104, None));
        assert!(!e.www_authenticate);
    }
}

#[test]
fn auth_1_an_empty_token_counts_as_missing() {
    let mut st = page(2).build();
    know(&mut st, U);
    refused(
        &mut st,
        op_as(Caller::Empty, Proof::Absent, take(U, None)),
        GraphError::NO_TOKEN,
        Rule::Auth1,
    );
}

#[test]
fn auth_1_an_unknown_token_gets_190_with_www_authenticate() {
    let mut st = page(2).build();
    know(&mut st, U);
    let out = refused(
        &mut st,
        op_as(Caller::Unknown, Proof::Absent, take(U, None)),
        GraphError::BAD_TOKEN,
        Rule::Auth1,
    );
    let Answer::Graph(Err(e)) = out.answer else {
        unreachable!()
    };
    assert_eq!((e.status, e.code, e.subcode), (400, 190, None));
    assert!(e.www_authenticate);
}

#[test]
fn auth_1_the_token_is_checked_before_route_proof_parameters_psid_and_rules() {
    let mut st = page(3).appsecret_proof(A1).build();
    owned_by(&mut st, U, A0);
    let cases = [
        malformed(Edge::Messages, Defect::WrongNode),
        malformed(Edge::Messages, Defect::UnknownEdge),
        malformed(Edge::Messages, Defect::BodyNotJson),
        text("424242", "x"),
        text(U, "not the owner"),
        human_agent_text(U, "no feature"),
    ];
    for call in cases {
        refused(
            &mut st,
            op_as(Caller::Missing, Proof::Absent, call.clone()),
            GraphError::NO_TOKEN,
            Rule::Auth1,
        );
        refused(
            &mut st,
            op_as(Caller::Unknown, Proof::Wrong, call),
            GraphError::BAD_TOKEN,
            Rule::Auth1,
        );
    }
}

#[test]
fn auth_1_calls_that_reach_no_page_are_answered_by_the_token_alone() {
    let g = |caller| GraphOp {
        caller,
        proof: Proof::Absent,
        call: release(U),
        transport: Transport::default(),
    };
    let out = apply_pageless(&g(Caller::Missing));
    expect(&out, err(GraphError::NO_TOKEN), vec![], vec![], Rule::Auth1);
    let out = apply_pageless(&g(Caller::Empty));
    expect(&out, err(GraphError::NO_TOKEN), vec![], vec![], Rule::Auth1);
    let out = apply_pageless(&g(Caller::Unknown));
    expect(
        &out,
        err(GraphError::BAD_TOKEN),
        vec![],
        vec![],
        Rule::Auth1,
    );
}

fn transports() -> Vec<Transport> {
    let mut v = Vec::new();
    for encoding in [Encoding::Json, Encoding::Form, Encoding::Query] {
        for token_at in [
            TokenAt::Query,
            TokenAt::Body,
            TokenAt::Bearer,
            TokenAt::OAuth,
        ] {
            for (page_node, unversioned) in [(false, false), (true, false), (false, true)] {
                v.push(Transport {
                    encoding,
                    token_at,
                    page_node,
                    unversioned,
                    ..Transport::default()
                });
            }
        }
    }
    // The accepted spellings of wire.md's precise points mean the same too.
    let spelled = Transport::default();
    v.extend([
        Transport {
            decoy_token: true,
            ..spelled
        },
        Transport {
            token_at: TokenAt::Body,
            decoy_token: true,
            ..spelled
        },
        Transport {
            proof_upper: true,
            ..spelled
        },
        Transport {
            decoy_param: true,
            ..spelled
        },
        Transport {
            extra_param: true,
            ..spelled
        },
        Transport {
            recipient_as_text: true,
            ..spelled
        },
        Transport {
            ids_as_integers: true,
            ..spelled
        },
        Transport {
            explicit_nulls: true,
            ..spelled
        },
        Transport {
            duration_as: DurationAs::Text,
            ..spelled
        },
        Transport {
            duration_as: DurationAs::Float,
            ..spelled
        },
    ]);
    v
}

#[test]
fn auth_2_only_the_token_decides_which_app_acts() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    assert_success_pass(&mut st, A0, A1);
    for transport in transports() {
        let op = |a: AppIx, call: Call| {
            Op::Graph(GraphOp {
                caller: Caller::App(a),
                proof: Proof::Absent,
                call,
                transport,
            })
        };
        // App 2's token cannot release app 1's thread, wherever it sits.
        refused(
            &mut st,
            op(A2, release(U)),
            GraphError::NOT_OWNER,
            Rule::Auth2,
        );
        // Naming the owner as the target does not make the caller the owner.
        refused(
            &mut st,
            op(A2, pass_to(U, A1)),
            GraphError::NOT_OWNER,
            Rule::Auth2,
        );
        // App 1's token acts as app 1.
        let mut copy = st.clone();
        let out = run(&mut copy, op(A1, release(U)));
        expect(&out, ok(), vec![], vec![], Rule::Auth2);
        assert_eq!(owner(&copy, U), None);
    }
}

#[test]
fn auth_2_the_encoding_of_a_call_never_changes_its_outcome() {
    let mut base = page(3).primary(A0).build();
    know(&mut base, U);
    let calls = [
        (A1, take(U, Some("m"))),
        (A0, pass(U, Some(to_app(A2)), Some("m"))),
        (A2, request(U, None)),
        (A0, extend(U, 60)),
        (A1, owner_query(U)),
        (A0, text(U, "hi")),
    ];
    for (a, call) in calls {
        let mut reference = base.clone();
        let expected = gr(&mut reference, a, call.clone());
        for transport in transports() {
            let mut st = base.clone();
            let out = run(
                &mut st,
                Op::Graph(GraphOp {
                    caller: Caller::App(a),
                    proof: Proof::Absent,
                    call: call.clone(),
                    transport,
                }),
            );
            assert_rule(&out, Rule::Auth2);
            assert_eq!(out, expected, "{transport:?}");
            assert_eq!(st, reference, "{transport:?}");
        }
    }
}

fn with_proof(a: AppIx, proof: Proof, call: Call) -> Op {
    op_as(Caller::App(a), proof, call)
}

#[test]
fn auth_3_a_missing_or_wrong_proof_is_refused_when_required() {
    let mut st = page(3).appsecret_proof(A1).build();
    know(&mut st, U);
    let out = run(&mut st, with_proof(A1, Proof::Right, take(U, None)));
    expect(&out, ok(), vec![], vec![], Rule::Auth3);
    for proof in [Proof::Absent, Proof::Wrong] {
        refused(
            &mut st,
            with_proof(A1, proof, text(U, "x")),
            GraphError::INVALID,
            Rule::Auth3,
        );
        refused(
            &mut st,
            with_proof(A1, proof, owner_query(U)),
            GraphError::INVALID,
            Rule::Auth3,
        );
    }
    let out = run(&mut st, with_proof(A1, Proof::Right, text(U, "proved")));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A1), MessageKind::Text, "proved"))],
        Rule::Auth3,
    );
}

#[test]
fn auth_3_the_proof_is_ignored_for_apps_that_do_not_require_it() {
    let mut st = page(3).appsecret_proof(A1).build();
    know(&mut st, U);
    let out = run(&mut st, with_proof(A0, Proof::Wrong, take(U, None)));
    expect(&out, ok(), vec![], vec![], Rule::Take1);
    assert_eq!(owner(&st, U), Some(app(A0)));
}

#[test]
fn auth_3_the_proof_is_checked_before_parameters_psid_and_rules() {
    let mut st = page(3).appsecret_proof(A1).build();
    owned_by(&mut st, U, A0);
    for call in [
        malformed(Edge::Messages, Defect::BodyNotJson),
        text("424242", "unknown psid"),
        text(U, "not the owner"),
        human_agent_text(U, "no feature"),
        extend(U, 0),
    ] {
        refused(
            &mut st,
            with_proof(A1, Proof::Absent, call),
            GraphError::INVALID,
            Rule::Auth3,
        );
    }
}

#[test]
fn auth_4_owner_and_primary_see_the_owner_others_only_the_expiration() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    clock(&mut st, 1_234);
    assert_success_pass(&mut st, A0, A1);
    // deadline = 1_700_000_000_123 + 1_234 + 86_400_000 = 1_700_086_401_357 ms
    let exp = 1_700_086_401;
    let before = st.clone();
    let out = gr(&mut st, A1, owner_query(U));
    expect(
        &out,
        owner_view(Some((Some(app(A1)), exp))),
        vec![],
        vec![],
        Rule::Auth4,
    );
    let out = gr(&mut st, A0, owner_query(U));
    expect(
        &out,
        owner_view(Some((Some(app(A1)), exp))),
        vec![],
        vec![],
        Rule::Auth4,
    );
    let out = gr(&mut st, A2, owner_query(U));
    expect(
        &out,
        owner_view(Some((None, exp))),
        vec![],
        vec![],
        Rule::Auth4,
    );
    assert_eq!(st, before, "thread_owner changes nothing");
}

#[test]
fn auth_4_an_idle_thread_answers_an_empty_list_to_everyone() {
    let mut st = page(3).primary(A0).build();
    idle(&mut st, U);
    for a in ALL3 {
        let out = gr(&mut st, a, owner_query(U));
        expect(&out, owner_view(None), vec![], vec![], Rule::Auth4);
    }
}

#[test]
fn auth_4_when_the_page_inbox_owns() {
    let mut st = page(3).primary(A0).build();
    inbox_owned(&mut st, U);
    // deadline = T0 + 24 h = 1_700_086_400_123 ms
    let exp = 1_700_086_400;
    let out = gr(&mut st, A0, owner_query(U));
    expect(
        &out,
        owner_view(Some((Some(INBOX), exp))),
        vec![],
        vec![],
        Rule::Auth4,
    );
    for a in [A1, A2] {
        let out = gr(&mut st, a, owner_query(U));
        expect(
            &out,
            owner_view(Some((None, exp))),
            vec![],
            vec![],
            Rule::Auth4,
        );
    }
}

#[test]
fn auth_4_the_expiration_follows_an_extension() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    assert_eq!(gr(&mut st, A0, extend(U, 604_800)).answer, ok());
    // deadline = 1_700_000_000_123 + 604_800_000 = 1_700_604_800_123 ms
    let out = gr(&mut st, A1, owner_query(U));
    expect(
        &out,
        owner_view(Some((None, 1_700_604_800))),
        vec![],
        vec![],
        Rule::Auth4,
    );
}

// ===========================================================================
// INPUT

fn calls_on(psid: &str) -> Vec<Call> {
    vec![
        text(psid, "x"),
        buttons(psid, "b", &[("x", "x")]),
        survey(psid, None),
        pass_to(psid, A1),
        take(psid, None),
        request(psid, None),
        release(psid),
        extend(psid, 60),
        owner_query(psid),
        user_menu_call(psid, &[("x", "x")]),
        Call::DeleteUserMenu { psid: psid.into() },
    ]
}

#[test]
fn input_1_a_psid_the_page_never_heard_from_gets_2018001() {
    let mut st = page(3).build();
    know(&mut st, U);
    for call in calls_on("424242") {
        refused_call(&mut st, A0, call, GraphError::UNKNOWN_PSID, Rule::Input1);
    }
    assert_eq!(
        GraphError::UNKNOWN_PSID,
        GraphError::new(100, Some(2018001))
    );
}

#[test]
fn input_1_malformed_parameters_get_100() {
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    let cases = [
        (Edge::Messages, Defect::BodyNotJson),
        (Edge::Messages, Defect::RecipientMissing),
        (Edge::Messages, Defect::RecipientMalformed),
        (Edge::Messages, Defect::IdMalformed),
        (Edge::Messages, Defect::MessagingTypeMissing),
        (Edge::Messages, Defect::MessagingTypeUnknown),
        (Edge::Messages, Defect::MessageMissing),
        (Edge::Messages, Defect::MessageMalformed),
        (Edge::Messages, Defect::Other),
        (Edge::PassThreadControl, Defect::IdMalformed),
        (Edge::PassThreadControl, Defect::MetadataNotString),
        (Edge::TakeThreadControl, Defect::MetadataNotString),
        (Edge::RequestThreadControl, Defect::RecipientMissing),
        (Edge::ReleaseThreadControl, Defect::RecipientMalformed),
        (Edge::ThreadOwner, Defect::RecipientMissing),
        (Edge::CustomUserSettings, Defect::PsidMissing),
        (Edge::CustomUserSettings, Defect::MenuMalformed),
        (Edge::MessengerProfile, Defect::MenuMalformed),
        (Edge::Messages, Defect::TextAndAttachment),
        (Edge::Messages, Defect::RecipientBare),
        (Edge::PassThreadControl, Defect::IdBoolean),
        (Edge::TakeThreadControl, Defect::IdFloat),
        (Edge::CustomUserSettings, Defect::IdObject),
    ];
    for (edge, defect) in cases {
        refused_call(
            &mut st,
            A0,
            malformed(edge, defect),
            GraphError::INVALID,
            Rule::Input1,
        );
    }
}

#[test]
fn input_1_route_defects_get_100_after_the_token() {
    let mut st = page(3).build();
    know(&mut st, U);
    for defect in [Defect::WrongNode, Defect::UnknownEdge, Defect::WrongMethod] {
        refused_call(
            &mut st,
            A0,
            malformed(Edge::Messages, defect),
            GraphError::INVALID,
            Rule::Input1,
        );
    }
}

#[test]
fn input_1_a_bad_path_is_refused_before_the_token() {
    // Precise point 1: the path is checked before the token.
    let mut st = page(3).build();
    let call = malformed(Edge::Messages, Defect::BadPath);
    for caller in [
        Caller::Missing,
        Caller::Empty,
        Caller::Unknown,
        Caller::App(A0),
    ] {
        refused(
            &mut st,
            op_as(caller, Proof::Absent, call.clone()),
            GraphError::INVALID,
            Rule::Input1,
        );
    }
    let out = apply_pageless(&GraphOp {
        caller: Caller::Missing,
        proof: Proof::Absent,
        call,
        transport: Transport::default(),
    });
    expect(&out, err(GraphError::INVALID), vec![], vec![], Rule::Input1);
}

#[test]
fn input_1_parameters_are_checked_before_the_psid() {
    let mut st = page(3).build();
    know(&mut st, U);
    let unknown = "424242";
    let cases = [
        text(unknown, ""),
        Call::Send {
            psid: unknown.into(),
            messaging_type: MessagingType::MessageTag,
            tag: None,
            message: Message::Text {
                text: "x".into(),
                quick_replies: None,
            },
        },
        take(unknown, Some(&"m".repeat(1001))),
        extend(unknown, 604_801),
    ];
    for call in cases {
        let out = refused_call(&mut st, A0, call, GraphError::INVALID, Rule::Ctrl5);
        assert!(out.rules.contains(Rule::Input1) || out.rules.contains(Rule::Exp3));
    }
}

#[test]
fn input_1_the_psid_is_checked_before_the_rules() {
    let mut st = page(3).human_agent(A1).build();
    know(&mut st, U);
    let unknown = "424242";
    for (a, call) in [
        (A0, human_agent_text(unknown, "x")),
        (A0, release(unknown)),
        (A0, extend(unknown, 60)),
        (A0, pass(unknown, None, None)),
        (
            A2,
            Call::DeleteUserMenu {
                psid: unknown.into(),
            },
        ),
    ] {
        refused_call(&mut st, a, call, GraphError::UNKNOWN_PSID, Rule::Input1);
    }
}

#[test]
fn input_1_empty_ids_are_malformed() {
    // Precise point 5: "" is a malformed id (100), not an unknown one.
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    for call in calls_on("") {
        refused_call(&mut st, A0, call, GraphError::INVALID, Rule::Input1);
    }
    refused_call(
        &mut st,
        A0,
        pass(U, Some(AppRef::Unknown(String::new())), None),
        GraphError::INVALID,
        Rule::Input1,
    );
}

#[test]
fn input_1_ids_that_are_booleans_floats_or_objects_are_malformed() {
    // Precise point 5: ids are non-empty strings or integers; `""`,
    // booleans, floats and objects are 100, on every edge that has one
    // (recipient.id, target_app_id, psid), before the PSID and the rules.
    let mut st = page(3).primary(A0).build();
    owned_by(&mut st, U, A0);
    for defect in [
        Defect::IdMalformed,
        Defect::IdBoolean,
        Defect::IdFloat,
        Defect::IdObject,
    ] {
        for edge in [
            Edge::Messages,
            Edge::PassThreadControl,
            Edge::TakeThreadControl,
            Edge::ThreadOwner,
            Edge::CustomUserSettings,
        ] {
            // A non-owner: a well-formed call would get 10 (or 2018164).
            refused_call(
                &mut st,
                A2,
                malformed(edge, defect),
                GraphError::INVALID,
                Rule::Input1,
            );
        }
    }
}

#[test]
fn input_1_a_bare_psid_is_a_recipient_only_for_thread_owner() {
    // Precise point 5: `recipient` is an object or JSON text of one; only
    // `thread_owner?recipient=` also takes a bare PSID.
    let mut st = page(3).build();
    owned_by(&mut st, U, A0);
    for edge in [
        Edge::Messages,
        Edge::PassThreadControl,
        Edge::TakeThreadControl,
        Edge::RequestThreadControl,
        Edge::ReleaseThreadControl,
        Edge::ExtendThreadControl,
    ] {
        refused_call(
            &mut st,
            A1,
            malformed(edge, Defect::RecipientBare),
            GraphError::INVALID,
            Rule::Input1,
        );
    }
    let out = gr(&mut st, A1, owner_query(U));
    expect(
        &out,
        owner_view(Some((None, (T0 + DAY) / 1000))),
        vec![],
        vec![],
        Rule::Auth4,
    );
}

#[test]
fn input_1_text_and_attachment_together_are_refused() {
    // Precise point 5: `message` is exactly one of the three shapes.
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    refused_call(
        &mut st,
        A0,
        malformed(Edge::Messages, Defect::TextAndAttachment),
        GraphError::INVALID,
        Rule::Input1,
    );
    // Checked after the token and the proof, before the rules.
    let st2 = &mut page(2).appsecret_proof(A1).build();
    owned_by(st2, U, A0);
    refused(
        st2,
        op_as(
            Caller::Unknown,
            Proof::Absent,
            malformed(Edge::Messages, Defect::TextAndAttachment),
        ),
        GraphError::BAD_TOKEN,
        Rule::Auth1,
    );
    refused(
        st2,
        op_as(
            Caller::App(A1),
            Proof::Absent,
            malformed(Edge::Messages, Defect::TextAndAttachment),
        ),
        GraphError::INVALID,
        Rule::Auth3,
    );
}

#[test]
fn input_1_text_must_be_1_to_2000_characters() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    for t in [String::new(), "a".repeat(2001), "é".repeat(2001)] {
        refused_call(&mut st, A0, text(U, &t), GraphError::INVALID, Rule::Input1);
    }
    for t in ["a".repeat(2000), "é".repeat(2000), "x".to_string()] {
        let out = gr(&mut st, A0, text(U, &t));
        let m = sent_mid(&out);
        expect(
            &out,
            sent(U, &m),
            vec![],
            vec![(U, entry(&m, app(A0), MessageKind::Text, &t))],
            Rule::Ctrl2,
        );
    }
}

#[test]
fn input_1_quick_replies_must_be_a_non_empty_array() {
    let mut st = page(2).build();
    owned_by(&mut st, U, A0);
    let with = |qr: Vec<Choice>| Call::Send {
        psid: U.into(),
        messaging_type: MessagingType::Response,
        tag: None,
        message: Message::Text {
            text: "Pick".into(),
            quick_replies: Some(qr),
        },
    };
    refused_call(&mut st, A0, with(vec![]), GraphError::INVALID, Rule::Input1);
    let out = gr(&mut st, A0, with(choices(&[("Yes", "Y")])));
    let m = sent_mid(&out);
    expect(
        &out,
        sent(U, &m),
        vec![],
        vec![(U, entry(&m, app(A0), MessageKind::Text, "Pick"))],
        Rule::Ctrl2,
    );
}

#[test]
fn input_1_message_tag_requires_a_tag() {
    let mut st = page(2).human_agent(A0).build();
    owned_by(&mut st, U, A0);
    let call = Call::Send {
        psid: U.into(),
        messaging_type: MessagingType::MessageTag,
        tag: None,
        message: Message::Text {
            text: "x".into(),
            quick_replies: None,
        },
    };
    refused_call(&mut st, A0, call, GraphError::INVALID, Rule::Input1);
}

#[test]
fn input_1_metadata_longer_than_1000_characters_is_refused() {
    let mut st = page(3).primary(A0).build();
    know(&mut st, U);
    let long = "m".repeat(1001);
    refused_call(
        &mut st,
        A0,
        pass(U, Some(to_app(A1)), Some(&long)),
        GraphError::INVALID,
        Rule::Input1,
    );
    refused_call(
        &mut st,
        A2,
        request(U, Some(&long)),
        GraphError::INVALID,
        Rule::Input1,
    );
    assert_success_pass(&mut st, A0, A1);
    refused_call(
        &mut st,
        A0,
        take(U, Some(&long)),
        GraphError::INVALID,
        Rule::Input1,
    );
    let max = "é".repeat(1000);
    let out = gr(&mut st, A0, take(U, Some(&max)));
    expect(
        &out,
        ok(),
        vec![handover(A1, U, T0, take_ev(app(A1), app(A0), Some(&max)))],
        vec![],
        Rule::Take2,
    );
}

#[test]
fn input_1_a_psid_becomes_known_through_message_and_ad_entry_only() {
    // Precise point 6 and control-api.md: `message` and `ad_entry` make a
    // PSID known; `postback`, `menu` and `inbox` on an unknown PSID are
    // control-API errors.
    let mut st = page(2).build();
    assert_eq!(
        gr(&mut st, A0, page_menu_call(&[("m", "m")])).answer,
        result_ok()
    );
    let w = "8080";
    control_refused(&mut st, click_op(w, 0, "x", None));
    control_refused(&mut st, menu_op(w, "m", None));
    control_refused(&mut st, inbox_op(w, InboxAction::MoveToMain));
    refused_call(
        &mut st,
        A0,
        owner_query(w),
        GraphError::UNKNOWN_PSID,
        Rule::Input1,
    );
    user_msg(&mut st, U, "hi");
    run(&mut st, ad_entry_op(V, to_app(A1), "ad", "hi"));
    let out = gr(&mut st, A0, owner_query(U));
    expect(&out, owner_view(None), vec![], vec![], Rule::Auth4);
    let out = gr(&mut st, A0, owner_query(V));
    expect(
        &out,
        owner_view(Some((None, (T0 + DAY) / 1000))),
        vec![],
        vec![],
        Rule::Auth4,
    );
}

// ===========================================================================
// IG: the Instagram surface (`instagram.md`)

/// An IGSID.
const W: &str = "6655443322";
/// A second IGSID.
const X: &str = "6655443399";

fn ig_page_menu_call(platform: &str, items: &[(&str, &str)]) -> Call {
    Call::SetPageMenu {
        items: choices(items),
        platform: Some(platform.into()),
    }
}

fn assert_rules(out: &Outcome, rules: &[Rule]) {
    for r in rules {
        assert_rule(out, *r);
    }
}

#[test]
fn ig_1_the_first_instagram_message_makes_an_igsid_and_pri_2_applies() {
    let mut st = page(3).instagram().primary(A0).build();
    let out = ig_msg(&mut st, W, "hi on instagram");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        on_ig_seen(fan_out(&ALL3, &[A0], W, T0, |_| {
            message_ev(&mid, "hi on instagram")
        })),
        vec![],
        Rule::Pri2,
    );
    assert_rules(&out, &[Rule::Ig1, Rule::Ig3, Rule::Hook1]);
    assert_eq!(st.surface(W), Some(Surface::Instagram));
    assert_eq!(owner(&st, W), Some(app(A0)));
    assert_eq!(folder(&st, W), Folder::Main);
    // Without a primary receiver, PRI-3 as on Messenger.
    let mut st = page(2).instagram().build();
    let out = ig_msg(&mut st, W, "hi");
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        on_ig_seen(fan_out(&[A0, A1], &[A0, A1], W, T0, |_| {
            message_ev(&mid, "hi")
        })),
        vec![],
        Rule::Pri3,
    );
    assert_eq!(owner(&st, W), None);
}

#[test]
fn ig_1_handover_calls_on_an_igsid_work_as_on_a_psid() {
    let mut st = page(3).instagram().primary(A0).build();
    ig_know(&mut st, W);
    // PASS-1: the owner passes; the target hears of it on Instagram.
    let out = gr(&mut st, A0, pass(W, Some(to_app(A1)), Some("lead")));
    expect(
        &out,
        ok(),
        on_ig_seen(vec![handover(
            A1,
            W,
            T0,
            pass_ev(app(A1), Some(app(A0)), Some("lead")),
        )]),
        vec![],
        Rule::Pass1,
    );
    assert_rules(&out, &[Rule::Ig1, Rule::Ig3]);
    // CTRL-4: the former owner can no longer send.
    let out = refused_call(
        &mut st,
        A0,
        text(W, "mine?"),
        GraphError::NOT_OWNER,
        Rule::Ctrl4,
    );
    assert_rule(&out, Rule::Ig1);
    // REQ-1: another app asks; the owner is told on Instagram.
    let out = gr(&mut st, A2, request(W, Some("me too")));
    expect(
        &out,
        ok(),
        on_ig_seen(vec![handover(A1, W, T0, request_ev(A2, Some("me too")))]),
        vec![],
        Rule::Req1,
    );
    // TAKE-2: the primary takes it back.
    clock(&mut st, 1_000);
    let out = gr(&mut st, A0, take(W, None));
    expect(
        &out,
        ok(),
        on_ig_seen(vec![handover(
            A1,
            W,
            T0 + 1_000,
            take_ev(app(A1), app(A0), None),
        )]),
        vec![],
        Rule::Take2,
    );
    // EXP-2, then REL-1 and PRI-4.
    let out = gr(&mut st, A0, extend(W, 172_800));
    expect(&out, ok(), vec![], vec![], Rule::Exp2);
    assert_eq!(deadline(&st, W), T0 + 1_000 + 172_800_000);
    let out = gr(&mut st, A0, release(W));
    expect(&out, ok(), vec![], vec![], Rule::Rel1);
    assert_rule(&out, Rule::Ig1);
    assert_eq!(owner(&st, W), None);
    // CTRL-3 / CTRL-2: sends reach the IGSID's transcript.
    let out = gr(&mut st, A2, text(W, "idle send"));
    let mid = sent_mid(&out);
    expect(
        &out,
        sent(W, &mid),
        vec![],
        vec![(W, entry(&mid, app(A2), MessageKind::Text, "idle send"))],
        Rule::Ctrl3,
    );
    // INPUT-1: an IGSID the page never heard from is unknown, as a PSID is.
    refused_call(
        &mut st,
        A0,
        take(X, None),
        GraphError::UNKNOWN_PSID,
        Rule::Input1,
    );
}

#[test]
fn ig_1_click_to_instagram_direct_ads_and_postback_buttons() {
    let mut st = page(3).instagram().primary(A0).build();
    // CTM-1 with a Click-to-Instagram-Direct ad (same referral).
    let out = run(
        &mut st,
        on_ig(ad_entry_op(W, to_app(A2), "ad77", "from the ad")),
    );
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        on_ig_seen(fan_out(&ALL3, &[A2], W, T0, |_| {
            ad_ev(&mid, "from the ad", "ad77")
        })),
        vec![],
        Rule::Ctm1,
    );
    assert_eq!(st.surface(W), Some(Surface::Instagram));
    assert_eq!(owner(&st, W), Some(app(A2)));
    // CTA-1 and HOOK-2: a button sent by app 1 (as human agent) gives it
    // control when tapped; the payload only on messaging.
    let mut st = page(3).instagram().primary(A0).human_agent(A1).build();
    ig_know(&mut st, W);
    let out = gr(
        &mut st,
        A1,
        Call::Send {
            psid: W.into(),
            messaging_type: MessagingType::MessageTag,
            tag: Some(HUMAN_AGENT_TAG.into()),
            message: Message::Buttons {
                text: "Book a call?".into(),
                buttons: choices(&[("Yes", "BOOK")]),
            },
        },
    );
    assert_rule(&out, Rule::Ha1);
    let out = run(&mut st, on_ig(click_op(W, 0, "BOOK", None)));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        on_ig_seen(fan_out(&ALL3, &[A1], W, T0, |ch| {
            postback_ev(&mid, "Yes", (ch == Channel::Messaging).then_some("BOOK"))
        })),
        vec![],
        Rule::Cta1,
    );
    assert_eq!(owner(&st, W), Some(app(A1)));
}

#[test]
fn ig_1_control_lapses_on_instagram_threads_too() {
    let mut st = page(2).instagram().primary(A0).build();
    ig_know(&mut st, W);
    let out = clock(&mut st, DAY);
    expect(&out, now_answer(T0 + DAY), vec![], vec![], Rule::Exp1);
    assert_rule(&out, Rule::Pri4);
    assert_eq!(owner(&st, W), None);
}

#[test]
fn ig_1_instagram_user_events_need_a_linked_instagram_account() {
    let mut st = page(2).primary(A0).build();
    let out = control_refused(&mut st, on_ig(user_msg_op(W, "hi")));
    assert_eq!(out.decided_by, Rule::Ig1);
    control_refused(&mut st, on_ig(ad_entry_op(W, to_app(A1), "ad", "hi")));
    assert!(st.threads.is_empty());
}

#[test]
fn ig_2_the_instagram_inbox_is_the_pass_target_of_instagram_threads() {
    let mut st = page(3).instagram().primary(A0).build();
    ig_know(&mut st, W);
    clock(&mut st, 2_000);
    let out = gr(
        &mut st,
        A0,
        pass(W, Some(AppRef::InstagramInbox), Some("qualified")),
    );
    // No webhook (the inbox has none); the thread shows in main.
    expect(&out, ok(), vec![], vec![], Rule::Pass1);
    assert_rules(&out, &[Rule::Ig1, Rule::Ig2]);
    assert_eq!(owner(&st, W), Some(IG_INBOX));
    assert_eq!(folder(&st, W), Folder::Main);
    assert_eq!(deadline(&st, W), T0 + 2_000 + DAY);
    // Idle Instagram threads may be passed to it by anyone (PASS-2).
    ig_know(&mut st, X);
    gr(&mut st, A0, release(X));
    let out = gr(&mut st, A2, pass(X, Some(AppRef::InstagramInbox), None));
    expect(&out, ok(), vec![], vec![], Rule::Pass2);
    assert_eq!(owner(&st, X), Some(IG_INBOX));
}

#[test]
fn ig_2_each_inbox_is_an_unknown_target_on_the_other_surface() {
    let mut st = page(3).instagram().primary(A0).build();
    ig_know(&mut st, W);
    know(&mut st, U);
    for (psid, target) in [(W, AppRef::PageInbox), (U, AppRef::InstagramInbox)] {
        let out = refused_call(
            &mut st,
            A0,
            pass(psid, Some(target.clone()), None),
            GraphError::UNKNOWN_TARGET,
            Rule::Ig2,
        );
        assert_eq!(out.decided_by, Rule::Ig2);
        assert_rule(&out, Rule::Pass5);
        // The target is checked before ownership, as PASS-5 is.
        let out = refused_call(
            &mut st,
            A1,
            pass(psid, Some(target), None),
            GraphError::UNKNOWN_TARGET,
            Rule::Pass5,
        );
        assert_eq!(out.decided_by, Rule::Ig2);
    }
    // The id on the wire resolves to the same references.
    assert_eq!(
        st.setup.app_ref(INSTAGRAM_INBOX_APP_ID),
        AppRef::InstagramInbox
    );
}

#[test]
fn ig_2_instagram_inbox_actions_play_inbox_1_to_4() {
    let mut st = page(3).instagram().primary(A0).build();
    ig_know(&mut st, W);
    assert_eq!(gr(&mut st, A0, pass_to(W, A1)).answer, ok());
    // INBOX-1: moving to main gives the Instagram Inbox control.
    clock(&mut st, 1_000);
    let out = ig_inbox(&mut st, W, InboxAction::MoveToMain);
    expect(
        &out,
        ctl_ok(),
        on_ig_seen(vec![handover(
            A1,
            W,
            T0 + 1_000,
            take_ev(app(A1), IG_INBOX, None),
        )]),
        vec![],
        Rule::Inbox1,
    );
    assert_rules(&out, &[Rule::Ig1, Rule::Ig2, Rule::Ig3]);
    assert_eq!(owner(&st, W), Some(IG_INBOX));
    // INBOX-2: its reply reaches the user, sent by the Instagram Inbox.
    let out = ig_inbox(&mut st, W, reply("An admin here"));
    let mid = transcript(&st, W).last().unwrap().mid.clone();
    expect(
        &out,
        ctl_ok(),
        vec![],
        vec![(W, entry(&mid, IG_INBOX, MessageKind::Text, "An admin here"))],
        Rule::Inbox2,
    );
    // The Instagram Inbox is "another owner" (CTRL-4, REL-2, EXP-3, REQ-1).
    for call in [text(W, "bot"), release(W), extend(W, 60)] {
        let out = refused_call(&mut st, A1, call, GraphError::NOT_OWNER, Rule::Ig2);
        assert_rule(&out, Rule::Ig1);
    }
    let out = gr(&mut st, A2, request(W, None));
    expect(&out, ok(), vec![], vec![], Rule::Req1);
    assert_rule(&out, Rule::Ig2);
    // INBOX-4: marking done hands control to the primary.
    clock(&mut st, 1_000);
    let out = ig_inbox(&mut st, W, InboxAction::MarkDone);
    expect(
        &out,
        ctl_ok(),
        on_ig_seen(vec![handover(
            A0,
            W,
            T0 + 2_000,
            pass_ev(app(A0), Some(IG_INBOX), None),
        )]),
        vec![],
        Rule::Inbox4,
    );
    assert_eq!(
        (owner(&st, W), folder(&st, W)),
        (Some(app(A0)), Folder::Done)
    );
    // INBOX-3: a reply in done leaves the owner alone.
    let out = ig_inbox(&mut st, W, reply("Anything else?"));
    assert_eq!(out.decided_by, Rule::Inbox3);
    assert_eq!(owner(&st, W), Some(app(A0)));
    // The primary may take from the Instagram Inbox (TAKE-2), no webhook.
    ig_inbox(&mut st, W, InboxAction::MoveToMain);
    let out = gr(&mut st, A0, take(W, None));
    expect(&out, ok(), vec![], vec![], Rule::Take2);
    assert_rule(&out, Rule::Ig2);
}

#[test]
fn ig_2_an_inbox_acts_only_on_its_own_surface_and_is_never_primary() {
    let mut st = page(2).instagram().primary(A0).build();
    ig_know(&mut st, W);
    know(&mut st, U);
    for action in [
        InboxAction::MoveToMain,
        reply("wrong inbox"),
        InboxAction::MarkDone,
    ] {
        // The Page Inbox on an Instagram thread, the Instagram Inbox on a
        // Messenger thread: control-API errors.
        control_refused(&mut st, inbox_op(W, action.clone()));
        control_refused(&mut st, on_ig(inbox_op(U, action)));
    }
    // PRI-1: neither inbox can be the primary receiver.
    let out = control_refused(
        &mut st,
        Op::Roles {
            primary: Some(AppRef::InstagramInbox),
        },
    );
    assert_eq!(out.decided_by, Rule::Pri1);
    let apps = vec![AppSpec {
        app_id: INSTAGRAM_INBOX_APP_ID.into(),
        name: "not an app".into(),
        human_agent: false,
        require_appsecret_proof: false,
    }];
    assert!(Setup::new("5".into(), 0, apps, None).is_err());
    let app = AppSpec {
        app_id: "51".into(),
        name: "a".into(),
        human_agent: false,
        require_appsecret_proof: false,
    };
    assert!(
        Setup::new(
            "5".into(),
            0,
            vec![app.clone()],
            Some(INSTAGRAM_INBOX_APP_ID)
        )
        .is_err()
    );
    let plain = Setup::new("5".into(), 0, vec![app], None).unwrap();
    for bad in ["", "5", PAGE_INBOX_APP_ID, INSTAGRAM_INBOX_APP_ID] {
        assert!(
            plain.clone().with_instagram(Some(bad.into())).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn ig_3_instagram_threads_deliver_instagram_events_and_page_events_stay_on_messenger() {
    let mut st = page(2).instagram().build();
    let out = user_msg(&mut st, U, "messenger");
    assert!(
        out.deliveries
            .iter()
            .all(|d| d.event.surface == Surface::Messenger)
    );
    assert!(!out.rules.contains(Rule::Ig3));
    let out = ig_msg(&mut st, W, "instagram");
    assert_eq!(out.deliveries.len(), 2);
    assert!(
        out.deliveries
            .iter()
            .all(|d| d.event.surface == Surface::Instagram)
    );
    assert_rules(&out, &[Rule::Ig3, Rule::Hook4]);
    // app_roles is the page's: on Messenger (decided).
    let out = roles(&mut st, Some(to_app(A1)));
    expect(
        &out,
        ctl_ok(),
        vec![app_roles(A0, T0, false), app_roles(A1, T0, true)],
        vec![],
        Rule::Pri5,
    );
    assert!(!out.rules.contains(Rule::Ig3));
}

#[test]
fn ig_4_a_step_on_one_surface_leaves_the_other_surface_alone() {
    let mut st = page(3).instagram().primary(A0).build();
    know(&mut st, U);
    ig_know(&mut st, W);
    let messenger = st.thread(U).unwrap().clone();
    // Everything on the Instagram thread...
    for op in [
        graph_op(A0, pass(W, Some(to_app(A1)), None)),
        on_ig(user_msg_op(W, "again")),
        on_ig(inbox_op(W, InboxAction::MoveToMain)),
        on_ig(inbox_op(W, reply("hi"))),
        on_ig(inbox_op(W, InboxAction::MarkDone)),
        graph_op(A0, release(W)),
        graph_op(A1, take(W, None)),
    ] {
        let out = run(&mut st, op.clone());
        assert!(!out.is_refusal(), "{op}: {out:?}");
        assert_rule(&out, Rule::Ig4);
        assert!(
            out.deliveries
                .iter()
                .all(|d| d.event.psid.as_deref() == Some(W))
        );
        assert_eq!(
            st.thread(U),
            Some(&messenger),
            "{op} changed the Messenger thread"
        );
    }
    // ...and everything on the Messenger thread leaves the Instagram one.
    let instagram = st.thread(W).unwrap().clone();
    for op in [
        graph_op(A0, pass(U, Some(AppRef::PageInbox), None)),
        inbox_op(U, InboxAction::MarkDone),
        graph_op(A0, user_menu_call(U, &[("Help", "HELP")])),
        user_msg_op(U, "again"),
    ] {
        let out = run(&mut st, op.clone());
        assert!(!out.is_refusal(), "{op}: {out:?}");
        assert_rule(&out, Rule::Ig4);
        assert_eq!(
            st.thread(W),
            Some(&instagram),
            "{op} changed the Instagram thread"
        );
    }
}

#[test]
fn ig_4_a_user_id_belongs_to_the_surface_of_its_first_event() {
    let mut st = page(3).instagram().build();
    know(&mut st, U);
    ig_know(&mut st, W);
    gr(&mut st, A0, buttons(U, "pick", &[("A", "A")]));
    gr(&mut st, A0, buttons(W, "pick", &[("A", "A")]));
    gr(&mut st, A0, page_menu_call(&[("M", "M")]));
    gr(&mut st, A0, ig_page_menu_call("instagram", &[("M", "M")]));
    // Every user event and inbox action naming the id on the other surface
    // is a control-API error, decided by IG-4.
    for (id, on) in [(U, true), (W, false)] {
        let flip = |op: Op| if on { on_ig(op) } else { op };
        for op in [
            user_msg_op(id, "x"),
            ad_entry_op(id, to_app(A1), "ad", "x"),
            click_op(id, 0, "A", None),
            menu_op(id, "M", None),
        ] {
            let out = control_refused(&mut st, flip(op));
            assert_eq!(out.decided_by, Rule::Ig4);
        }
        control_refused(&mut st, flip(inbox_op(id, InboxAction::MoveToMain)));
    }
    assert_eq!(st.surface(U), Some(Surface::Messenger));
    assert_eq!(st.surface(W), Some(Surface::Instagram));
}

#[test]
fn ig_4_one_primary_receiver_serves_both_surfaces() {
    let mut st = page(3).instagram().primary(A1).build();
    know(&mut st, U);
    ig_know(&mut st, W);
    assert_eq!(
        (owner(&st, U), owner(&st, W)),
        (Some(app(A1)), Some(app(A1)))
    );
    // Changing it changes it for both; existing owners stay (PRI-5).
    let out = roles(&mut st, Some(to_app(A2)));
    assert_rule(&out, Rule::Ig4);
    ig_know(&mut st, X);
    assert_eq!(owner(&st, X), Some(app(A2)));
    assert_eq!(owner(&st, W), Some(app(A1)));
    // The new primary takes on either surface (TAKE-2).
    for psid in [U, W] {
        assert_eq!(gr(&mut st, A2, take(psid, None)).answer, ok());
    }
    // Without a target a pass goes to the primary, on both surfaces (PASS-4).
    assert_success_pass(&mut st, A2, A0);
    assert_eq!(gr(&mut st, A2, pass_to(W, A0)).answer, ok());
    let out = gr(&mut st, A0, pass(W, None, None));
    expect(
        &out,
        ok(),
        on_ig_seen(vec![handover(
            A2,
            W,
            T0,
            pass_ev(app(A2), Some(app(A0)), None),
        )]),
        vec![],
        Rule::Pass4,
    );
}

#[test]
fn ig_5_surveys_on_instagram_threads_are_refused_with_100() {
    let mut st = page(3).instagram().primary(A0).human_agent(A1).build();
    ig_know(&mut st, W);
    // By the owner, by a non-owner (held on Messenger), with the human agent
    // tag: 400 / 100, nothing held or delivered.
    for (a, tag) in [(A0, false), (A2, false), (A1, true)] {
        let call = Call::Send {
            psid: W.into(),
            messaging_type: if tag {
                MessagingType::MessageTag
            } else {
                MessagingType::Response
            },
            tag: tag.then(|| HUMAN_AGENT_TAG.to_string()),
            message: Message::Survey {
                title: Some("How did we do?".into()),
            },
        };
        let out = refused_call(&mut st, a, call, GraphError::INVALID, Rule::Ig5);
        assert_eq!(out.decided_by, Rule::Ig5);
        assert_rule(&out, Rule::Ig1);
    }
    assert!(st.thread(W).unwrap().held.is_empty());
    // The same survey to a PSID is held as SURVEY-1 says.
    know(&mut st, U);
    let out = gr(&mut st, A2, survey(U, None));
    assert_eq!(out.decided_by, Rule::Survey1);
    assert_eq!(st.thread(U).unwrap().held.len(), 1);
}

#[test]
fn ig_5_user_level_menus_are_refused_on_instagram_threads() {
    let mut st = page(3).instagram().build();
    ig_know(&mut st, W);
    // Idle: anyone may set a user menu on Messenger; not on Instagram.
    let out = refused_call(
        &mut st,
        A1,
        user_menu_call(W, &[("Help", "HELP")]),
        GraphError::INVALID,
        Rule::Ig5,
    );
    assert_eq!(out.decided_by, Rule::Ig5);
    assert_eq!(gr(&mut st, A1, take(W, None)).answer, ok());
    let out = refused_call(
        &mut st,
        A1,
        Call::DeleteUserMenu { psid: W.into() },
        GraphError::INVALID,
        Rule::Ig5,
    );
    assert_rule(&out, Rule::Menu2);
}

#[test]
fn ig_5_the_page_level_menu_is_per_surface() {
    let mut st = page(3).instagram().build();
    know(&mut st, U);
    ig_know(&mut st, W);
    // No Instagram menu yet: a pick on Instagram is a control-API error even
    // with a Messenger menu in force.
    assert_eq!(
        gr(&mut st, A0, page_menu_call(&[("Shop", "SHOP")])).answer,
        result_ok()
    );
    control_refused(&mut st, on_ig(menu_op(W, "SHOP", None)));
    // platform=instagram (any case) sets the Instagram menu only.
    let out = gr(
        &mut st,
        A1,
        ig_page_menu_call("Instagram", &[("Book", "BOOK")]),
    );
    expect(&out, result_ok(), vec![], vec![], Rule::Menu1);
    assert_rules(&out, &[Rule::Ig5, Rule::Ig1]);
    assert_eq!(st.page_menu.as_ref().unwrap().set_by, A0);
    assert_eq!(st.instagram_menu.as_ref().unwrap().set_by, A1);
    // MENU-3 uses the menu of the thread's surface.
    let out = run(&mut st, on_ig(menu_op(W, "BOOK", None)));
    let mid = event_mid(&out);
    expect(
        &out,
        ctl_mid(&mid),
        on_ig_seen(fan_out(&ALL3, &[A1], W, T0, |ch| {
            postback_ev(&mid, "Book", (ch == Channel::Messaging).then_some("BOOK"))
        })),
        vec![],
        Rule::Menu3,
    );
    assert_eq!(owner(&st, W), Some(app(A1)));
    let out = run(&mut st, menu_op(U, "SHOP", None));
    assert_eq!(out.decided_by, Rule::Menu3);
    assert_eq!(owner(&st, U), Some(app(A0)));
    // Deleting the Instagram menu leaves the Messenger one; platform=messenger
    // is the default surface.
    let out = gr(
        &mut st,
        A2,
        Call::DeletePageMenu {
            platform: Some("INSTAGRAM".into()),
        },
    );
    expect(&out, result_ok(), vec![], vec![], Rule::Ig5);
    assert_eq!(st.instagram_menu, None);
    assert!(st.page_menu.is_some());
    let out = gr(
        &mut st,
        A2,
        ig_page_menu_call("messenger", &[("New", "NEW")]),
    );
    assert_eq!(out.answer, result_ok());
    assert_eq!(st.page_menu.as_ref().unwrap().set_by, A2);
    assert_eq!(st.instagram_menu, None);
}

#[test]
fn ig_5_menu_1_applies_to_the_instagram_menu_on_its_own() {
    let mut st = page(3).instagram().primary(A0).build();
    let out = refused_call(
        &mut st,
        A1,
        ig_page_menu_call("instagram", &[("X", "X")]),
        GraphError::NOT_ALLOWED,
        Rule::Menu1,
    );
    assert_rule(&out, Rule::Ig5);
    assert_eq!(
        gr(&mut st, A0, ig_page_menu_call("instagram", &[("X", "X")])).answer,
        result_ok()
    );
    assert_eq!(st.page_menu, None);
}

#[test]
fn ig_5_bad_platform_values_and_pages_without_instagram_get_100() {
    let mut st = page(2).instagram().build();
    for call in [
        ig_page_menu_call("whatsapp", &[("X", "X")]),
        Call::DeletePageMenu {
            platform: Some("".into()),
        },
    ] {
        let out = refused_call(&mut st, A0, call, GraphError::INVALID, Rule::Ig5);
        assert_eq!(out.decided_by, Rule::Ig5);
        assert_rule(&out, Rule::Input1);
    }
    // The parameter is checked before the PSID and the rules (MENU-1).
    let mut st = page(2).instagram().primary(A0).build();
    let out = refused_call(
        &mut st,
        A1,
        ig_page_menu_call("threads", &[("X", "X")]),
        GraphError::INVALID,
        Rule::Ig5,
    );
    assert_eq!(out.decided_by, Rule::Ig5);
    // A page without an Instagram account has no Instagram menu (decided).
    let mut st = page(2).build();
    let out = refused_call(
        &mut st,
        A0,
        ig_page_menu_call("instagram", &[("X", "X")]),
        GraphError::INVALID,
        Rule::Ig5,
    );
    assert_eq!(out.decided_by, Rule::Ig5);
    assert_eq!(
        gr(&mut st, A0, ig_page_menu_call("MESSENGER", &[("X", "X")])).answer,
        result_ok()
    );
}

#[test]
fn ig_6_secondary_receivers_takes_platform_in_any_case() {
    let mut st = page(3).instagram().primary(A1).build();
    let list = Answer::Graph(Ok(GraphSuccess::SecondaryReceivers(vec![A0, A2])));
    for platform in [
        None,
        Some("messenger"),
        Some("instagram"),
        Some("INSTAGRAM"),
        Some("Messenger"),
    ] {
        let before = st.clone();
        let out = gr(
            &mut st,
            A1,
            Call::SecondaryReceivers {
                platform: platform.map(Into::into),
            },
        );
        expect(&out, list.clone(), vec![], vec![], Rule::Pri1);
        assert_eq!(out.rules.contains(Rule::Ig6), platform.is_some());
        assert_eq!(st, before);
    }
    // Another value: 400 / 100, before the primary-only check (10).
    for (a, bad) in [(A1, "whatsapp"), (A0, "ig"), (A1, "")] {
        let out = refused_call(
            &mut st,
            a,
            Call::SecondaryReceivers {
                platform: Some(bad.into()),
            },
            GraphError::INVALID,
            Rule::Ig6,
        );
        assert_eq!(out.decided_by, Rule::Ig6);
        assert_rule(&out, Rule::Input1);
    }
    // A valid platform from a non-primary is still 400 / 10.
    refused_call(
        &mut st,
        A0,
        Call::SecondaryReceivers {
            platform: Some("instagram".into()),
        },
        GraphError::NOT_ALLOWED,
        Rule::Ig6,
    );
}

#[test]
fn ig_6_thread_owner_on_an_igsid_answers_as_for_a_psid() {
    let mut st = page(3).instagram().primary(A0).build();
    ig_know(&mut st, W);
    assert_eq!(gr(&mut st, A0, pass_to(W, A1)).answer, ok());
    let exp = (T0 + DAY) / 1000;
    for (a, view) in [
        (A1, (Some(app(A1)), exp)),
        (A0, (Some(app(A1)), exp)),
        (A2, (None, exp)),
    ] {
        let out = gr(&mut st, a, owner_query(W));
        expect(&out, owner_view(Some(view)), vec![], vec![], Rule::Auth4);
        assert_rules(&out, &[Rule::Ig6, Rule::Ig1]);
    }
    gr(&mut st, A1, pass(W, Some(AppRef::InstagramInbox), None));
    let out = gr(&mut st, A0, owner_query(W));
    expect(
        &out,
        owner_view(Some((Some(IG_INBOX), exp))),
        vec![],
        vec![],
        Rule::Auth4,
    );
    gr(&mut st, A0, take(W, None));
    gr(&mut st, A0, release(W));
    let out = gr(&mut st, A2, owner_query(W));
    expect(&out, owner_view(None), vec![], vec![], Rule::Ig6);
}
