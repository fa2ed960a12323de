//! Every decided point is generated. `baton::generate::points` lists each
//! form that `wire.md` (precise points, other decided points) and
//! `control-api.md` (decided details) pin down; here, one test per point
//! asserts that the cases of a default `baton run` (`GenConfig::default()`,
//! up to 40 steps, 1000 cases, drawn as the run draws them) contain at
//! least one step showing it, for each of the seeds 1, 2 and 3. A point
//! the generator stops producing fails its test, named after the point's
//! rule.
//!
//! The corpus is built once per test binary and shared by every test.

use baton::generate::points::{Point, shown};
use baton::generate::{CaseSetup, GenConfig};
use baton::model::Op;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SEEDS: [u64; 3] = [1, 2, 3];
const CASES: u64 = 1000;
const MAX_STEPS: usize = 40;

/// The cases of a default run with `seed`, drawn exactly as `baton run`
/// draws them.
fn run_cases(seed: u64) -> Vec<(CaseSetup, Vec<Op>)> {
    let cfg = GenConfig::default();
    (0..CASES)
        .map(|i| baton::generate::nth_case(seed, i, &cfg, MAX_STEPS))
        .map(|c| (c.setup, c.ops))
        .collect()
}

/// Per seed: in how many cases each point shows.
fn corpus() -> &'static BTreeMap<u64, BTreeMap<Point, u32>> {
    static CORPUS: OnceLock<BTreeMap<u64, BTreeMap<Point, u32>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        std::thread::scope(|scope| {
            let workers: Vec<_> = SEEDS
                .iter()
                .map(|&seed| {
                    scope.spawn(move || {
                        let mut counts = BTreeMap::new();
                        for (cs, ops) in run_cases(seed) {
                            for p in shown(&cs, &ops) {
                                *counts.entry(p).or_insert(0) += 1;
                            }
                        }
                        (seed, counts)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("corpus worker"))
                .collect()
        })
    })
}

fn cases_showing(seed: u64, p: Point) -> u32 {
    corpus()[&seed].get(&p).copied().unwrap_or(0)
}

fn assert_generated(p: Point) {
    for seed in SEEDS {
        let n = cases_showing(seed, p);
        assert!(
            n > 0,
            "no case of a default run with seed {seed} shows {p:?} ({}): the generator \
             no longer produces this decided point",
            p.rules()
                .iter()
                .map(|r| r.id())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

macro_rules! point_tests {
    ($($test:ident => $point:ident;)*) => {
        $(
            #[test]
            fn $test() {
                assert_generated(Point::$point);
            }
        )*

        /// Every point with a test, and the test's name.
        const TESTED: &[(&str, Point)] = &[$((stringify!($test), Point::$point),)*];
    };
}

point_tests! {
    input_1_path_versioned_is_generated => PathVersioned;
    input_1_path_unversioned_is_generated => PathUnversioned;
    input_1_path_malformed_is_generated => PathMalformed;
    auth_1_token_in_query_is_generated => TokenInQuery;
    auth_1_token_in_body_is_generated => TokenInBody;
    auth_1_token_bearer_is_generated => TokenBearer;
    auth_1_token_o_auth_is_generated => TokenOAuth;
    auth_1_token_body_over_query_is_generated => TokenBodyOverQuery;
    auth_1_token_param_over_header_is_generated => TokenParamOverHeader;
    auth_1_token_missing_is_generated => TokenMissing;
    auth_1_token_empty_is_generated => TokenEmpty;
    auth_1_token_unknown_is_generated => TokenUnknown;
    input_1_node_me_is_generated => NodeMe;
    input_1_node_page_id_is_generated => NodePageId;
    input_1_node_wrong_is_generated => NodeWrong;
    input_1_edge_unknown_is_generated => EdgeUnknown;
    input_1_method_wrong_is_generated => MethodWrong;
    auth_3_proof_required_right_is_generated => ProofRequiredRight;
    auth_3_proof_required_missing_is_generated => ProofRequiredMissing;
    auth_3_proof_required_wrong_is_generated => ProofRequiredWrong;
    auth_3_proof_not_required_wrong_is_generated => ProofNotRequiredWrong;
    auth_3_proof_upper_case_is_generated => ProofUpperCase;
    input_1_param_in_query_and_body_is_generated => ParamInQueryAndBody;
    input_1_param_unknown_extra_is_generated => ParamUnknownExtra;
    input_1_recipient_object_is_generated => RecipientObject;
    input_1_recipient_json_text_in_json_body_is_generated => RecipientJsonTextInJsonBody;
    input_1_recipient_json_text_in_form_is_generated => RecipientJsonTextInForm;
    input_1_recipient_bare_is_generated => RecipientBare;
    input_1_thread_owner_bare_psid_is_generated => ThreadOwnerBarePsid;
    input_1_thread_owner_recipient_json_text_is_generated => ThreadOwnerRecipientJsonText;
    input_1_thread_owner_recipient_bracket_one_is_generated => ThreadOwnerRecipientBracketOne;
    input_1_recipient_id_as_integer_is_generated => RecipientIdAsInteger;
    input_1_target_app_id_as_integer_is_generated => TargetAppIdAsInteger;
    input_1_psid_param_as_integer_is_generated => PsidParamAsInteger;
    input_1_id_empty_is_generated => IdEmpty;
    input_1_id_boolean_is_generated => IdBoolean;
    input_1_id_float_is_generated => IdFloat;
    input_1_id_object_is_generated => IdObject;
    input_1_target_app_id_malformed_is_generated => TargetAppIdMalformed;
    input_1_psid_param_malformed_is_generated => PsidParamMalformed;
    input_1_null_for_absent_parameter_is_generated => NullForAbsentParameter;
    input_1_null_inside_message_is_generated => NullInsideMessage;
    input_1_metadata_empty_is_generated => MetadataEmpty;
    input_1_metadata_not_string_is_generated => MetadataNotString;
    input_1_metadata_at_1000_code_points_is_generated => MetadataAt1000CodePoints;
    input_1_metadata_at_1001_code_points_is_generated => MetadataAt1001CodePoints;
    exp_2_duration_as_number_is_generated => DurationAsNumber;
    exp_2_duration_as_text_in_json_is_generated => DurationAsTextInJson;
    exp_2_duration_as_text_in_form_is_generated => DurationAsTextInForm;
    exp_2_duration_as_float_integer_is_generated => DurationAsFloatInteger;
    exp_3_duration_float_is_generated => DurationFloat;
    exp_3_duration_text_is_generated => DurationText;
    exp_3_duration_true_is_generated => DurationTrue;
    exp_3_duration_null_is_generated => DurationNull;
    exp_3_duration_missing_is_generated => DurationMissing;
    exp_2_duration_at_1_is_generated => DurationAt1;
    exp_2_duration_at_604800_is_generated => DurationAt604800;
    exp_3_duration_zero_is_generated => DurationZero;
    exp_3_duration_at_604801_is_generated => DurationAt604801;
    ctrl_2_messaging_type_response_is_generated => MessagingTypeResponse;
    ctrl_2_messaging_type_update_is_generated => MessagingTypeUpdate;
    ha_1_messaging_type_message_tag_is_generated => MessagingTypeMessageTag;
    input_1_messaging_type_missing_is_generated => MessagingTypeMissing;
    input_1_messaging_type_unknown_is_generated => MessagingTypeUnknown;
    input_1_message_tag_without_tag_is_generated => MessageTagWithoutTag;
    ctrl_2_message_text_is_generated => MessageText;
    cta_1_message_buttons_is_generated => MessageButtons;
    survey_1_message_survey_is_generated => MessageSurvey;
    input_1_message_text_and_attachment_is_generated => MessageTextAndAttachment;
    input_1_message_of_no_shape_is_generated => MessageOfNoShape;
    input_1_message_missing_is_generated => MessageMissing;
    input_1_quick_replies_non_empty_is_generated => QuickRepliesNonEmpty;
    input_1_quick_replies_empty_is_generated => QuickRepliesEmpty;
    input_1_text_at_1_code_point_is_generated => TextAt1CodePoint;
    input_1_text_at_2000_code_points_is_generated => TextAt2000CodePoints;
    input_1_text_at_2001_code_points_is_generated => TextAt2001CodePoints;
    input_1_text_empty_is_generated => TextEmpty;
    input_1_psid_unknown_to_page_is_generated => PsidUnknownToPage;
    input_1_psid_learned_from_message_is_generated => PsidLearnedFromMessage;
    input_1_psid_learned_from_ad_entry_is_generated => PsidLearnedFromAdEntry;
    pass_4_pass_without_target_or_primary_is_generated => PassWithoutTargetOrPrimary;
    pass_4_pass_without_target_or_primary_by_non_owner_is_generated => PassWithoutTargetOrPrimaryByNonOwner;
    pass_5_pass_to_unknown_target_is_generated => PassToUnknownTarget;
    pass_5_pass_to_unknown_target_by_non_owner_is_generated => PassToUnknownTargetByNonOwner;
    pass_3_pass_to_self_by_non_owner_is_generated => PassToSelfByNonOwner;
    pass_6_pass_to_self_by_owner_is_generated => PassToSelfByOwner;
    ha_2_human_agent_tag_without_feature_by_non_owner_is_generated => HumanAgentTagWithoutFeatureByNonOwner;
    ha_1_human_agent_tag_without_message_tag_is_generated => HumanAgentTagWithoutMessageTag;
    ctrl_4_other_tag_with_message_tag_is_generated => OtherTagWithMessageTag;
    ha_1_human_agent_survey_by_approved_non_owner_is_generated => HumanAgentSurveyByApprovedNonOwner;
    ctrl_4_send_while_inbox_owns_is_generated => SendWhileInboxOwns;
    rel_2_release_while_inbox_owns_is_generated => ReleaseWhileInboxOwns;
    exp_3_extend_while_inbox_owns_is_generated => ExtendWhileInboxOwns;
    exp_1_inbox_control_lapses_is_generated => InboxControlLapses;
    pass_1_pass_to_inbox_by_owner_is_generated => PassToInboxByOwner;
    pass_2_pass_to_inbox_while_idle_is_generated => PassToInboxWhileIdle;
    take_2_primary_takes_from_inbox_is_generated => PrimaryTakesFromInbox;
    req_2_request_granted_with_metadata_is_generated => RequestGrantedWithMetadata;
    exp_1_owner_change_after_extension_is_generated => OwnerChangeAfterExtension;
    inbox_4_message_moves_done_thread_to_main_is_generated => MessageMovesDoneThreadToMain;
    inbox_4_ad_entry_moves_done_thread_to_main_is_generated => AdEntryMovesDoneThreadToMain;
    inbox_4_postback_or_menu_leaves_done_folder_is_generated => PostbackOrMenuLeavesDoneFolder;
    pri_2_message_on_idle_done_thread_goes_to_primary_is_generated => MessageOnIdleDoneThreadGoesToPrimary;
    pri_1_secondary_receivers_without_primary_is_generated => SecondaryReceiversWithoutPrimary;
    pri_1_secondary_receivers_by_primary_is_generated => SecondaryReceiversByPrimary;
    pri_1_secondary_receivers_by_non_primary_is_generated => SecondaryReceiversByNonPrimary;
    pri_5_roles_unset_primary_is_generated => RolesUnsetPrimary;
    pri_5_roles_change_primary_is_generated => RolesChangePrimary;
    ctm_1_ad_entry_standby_keeps_referral_is_generated => AdEntryStandbyKeepsReferral;
    cta_1_postback_on_unknown_psid_is_generated => PostbackOnUnknownPsid;
    menu_3_menu_on_unknown_psid_is_generated => MenuOnUnknownPsid;
    inbox_1_inbox_on_unknown_psid_is_generated => InboxOnUnknownPsid;
    cta_1_postback_on_unknown_mid_is_generated => PostbackOnUnknownMid;
    cta_1_postback_with_unknown_payload_is_generated => PostbackWithUnknownPayload;
    cta_1_postback_without_title_is_generated => PostbackWithoutTitle;
    cta_1_postback_with_title_is_generated => PostbackWithTitle;
    menu_3_menu_payload_not_in_menu_is_generated => MenuPayloadNotInMenu;
    menu_3_menu_without_menu_in_force_is_generated => MenuWithoutMenuInForce;
    menu_3_menu_without_title_is_generated => MenuWithoutTitle;
    menu_3_menu_without_title_not_in_menu_is_generated => MenuWithoutTitleNotInMenu;
    menu_3_menu_with_title_is_generated => MenuWithTitle;
    survey_1_survey_without_title_delivered_is_generated => SurveyWithoutTitleDelivered;
    cta_1_buttons_delivered_is_generated => ButtonsDelivered;
    survey_1_clock_releases_held_surveys_is_generated => ClockReleasesHeldSurveys;
    exp_1_clock_lapses_several_threads_is_generated => ClockLapsesSeveralThreads;
}

#[test]
fn the_catalogue_is_complete_and_every_point_is_generated() {
    // One test per point, named after its rule and the point.
    let mut tested: BTreeMap<Point, &str> = BTreeMap::new();
    for (name, p) in TESTED {
        assert!(tested.insert(*p, name).is_none(), "{p:?} has two tests");
        assert_eq!(*name, format!("{}_is_generated", p.test_stem()));
    }
    for p in Point::ALL {
        assert!(tested.contains_key(p), "{p:?} has no test in this file");
    }
    assert_eq!(tested.len(), Point::ALL.len());
    // And each of them shows in every seed's run; the rarest, for the record.
    let mut missing = Vec::new();
    let mut rarest: Vec<(u32, Point)> = Vec::new();
    for &p in Point::ALL {
        let counts: Vec<u32> = SEEDS.iter().map(|&s| cases_showing(s, p)).collect();
        if counts.contains(&0) {
            missing.push(format!("{p:?} {counts:?}"));
        }
        rarest.push((*counts.iter().min().unwrap(), p));
    }
    rarest.sort();
    eprintln!(
        "rarest points (fewest cases in any seed): {:?}",
        &rarest[..40]
    );
    assert!(missing.is_empty(), "not generated: {missing:#?}");
}
