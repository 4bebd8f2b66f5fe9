use super::*;
use crate::meta::parse_utc;
use crate::ErrorKind;
use proptest::prelude::*;

const FORM: &str = r#"{"id":"qa-basic","version":3,"title":"Basic call quality","pass_percent":80,
 "questions":[
  {"id":"greeting","text":"Did the agent greet the caller by name?","type":"yes_no","weight":10},
  {"id":"empathy","text":"Empathy","type":"scale","min":1,"max":5,"weight":20,"allow_na":true},
  {"id":"resolution","text":"Was the issue resolved?","type":"choice","choices":[{"value":"yes","points":100},{"value":"partly","points":50},{"value":"no","points":0}],"weight":30,"critical":true},
  {"id":"notes","text":"Notes","type":"text","required":false}
 ]}"#;

const ANSWERS: &str = r#"{"form":"qa-basic","version":3,"answers":{
  "greeting":{"value":true,"comment":"warm"},
  "empathy":{"value":4},
  "resolution":{"value":"partly"},
  "notes":{"value":"Caller was upset about billing"}}}"#;

fn form() -> Form {
    Form::from_json(FORM.as_bytes()).unwrap()
}

/// The path and reason of an `InvalidMetadata` error.
fn refusal<T: std::fmt::Debug>(r: Result<T>) -> (String, String) {
    match r.unwrap_err().into_kind() {
        ErrorKind::InvalidMetadata { path, reason } => (path, reason),
        k => panic!("unexpected {k:?}"),
    }
}

fn check_refusals<T: std::fmt::Debug>(
    cases: &[(String, &str, &str)],
    f: impl Fn(&[u8]) -> Result<T>,
) {
    for (text, path, reason) in cases {
        let (p, r) = refusal(f(text.as_bytes()));
        assert_eq!(&p, path, "{text}\n{r}");
        assert!(r.contains(reason), "{text}: {r:?} lacks {reason:?}");
    }
}

/// `FORM` with one member of one question replaced (`None`: removed).
fn form_edit(q: usize, member: &str, v: Option<Value>) -> String {
    let mut f: Value = serde_json::from_str(FORM).unwrap();
    let o = f["questions"][q].as_object_mut().unwrap();
    match v {
        Some(v) => o.insert(member.into(), v),
        None => o.remove(member),
    };
    f.to_string()
}

fn form_top(member: &str, v: Option<Value>) -> String {
    let mut f: Value = serde_json::from_str(FORM).unwrap();
    let o = f.as_object_mut().unwrap();
    match v {
        Some(v) => o.insert(member.into(), v),
        None => o.remove(member),
    };
    f.to_string()
}

#[test]
fn the_example_form_and_answers_parse_score_and_round_trip() {
    let f = form();
    assert_eq!(f.questions.len(), 4);
    assert_eq!(f.questions[3].weight, 0);
    assert!(!f.questions[3].required);
    assert_eq!(Form::from_json(&f.to_json()).unwrap(), f);
    let a = Answers::from_json(ANSWERS.as_bytes(), &f).unwrap();
    assert_eq!(Answers::from_json(&a.to_json(), &f).unwrap(), a);
    assert_eq!(a.answers["greeting"].comment.as_deref(), Some("warm"));
    // 10 + 20 * 3/4 + 30 * 50/100 = 40 of 60 points: 66.67 %, under the pass mark.
    let s = f.score(&a).unwrap();
    assert_eq!(
        s,
        Score {
            earned_milli: 40_000,
            possible_milli: 60_000,
            percent_bp: 6667,
            pass: false,
            critical_failed: vec![],
        }
    );
    // Defaults are omitted when written; explicit ones are kept.
    let text = String::from_utf8(f.to_json()).unwrap();
    assert!(
        text.contains(r#""type":"text","required":false}"#),
        "{text}"
    );
    assert!(!text.contains("\"critical\":false"), "{text}");
}

#[test]
fn form_refusals_name_their_path() {
    let long_id = Value::from("x".repeat(257));
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"id": format!("q{i}"), "text": "", "type": "yes_no"}))
        .collect();
    let cases: Vec<(String, &str, &str)> = vec![
        (form_top("version", Some(0.into())), "version", "1 to 2^53"),
        (form_top("version", None), "version", "missing"),
        (form_top("version", Some("3".into())), "version", "integer"),
        (
            form_top("pass_percent", Some(101.into())),
            "pass_percent",
            "maximum of 100",
        ),
        (form_top("pass_percent", None), "pass_percent", "missing"),
        (form_top("title", Some(Value::Null)), "title", "null"),
        (form_top("id", Some(long_id.clone())), "id", "1 to 256"),
        (form_top("id", Some("".into())), "id", "1 to 256"),
        (
            form_top("questions", Some(json!([]))),
            "questions",
            "1 to 200",
        ),
        (
            form_top("questions", Some(Value::Array(many))),
            "questions",
            "1 to 200",
        ),
        (
            form_top("colour", Some("red".into())),
            "colour",
            "not a member of a form",
        ),
        (
            form_edit(0, "type", Some("stars".into())),
            "questions[0].type",
            "unknown question type",
        ),
        (form_edit(0, "type", None), "questions[0].type", "missing"),
        (form_edit(0, "text", None), "questions[0].text", "missing"),
        (
            form_edit(0, "weight", Some(1001.into())),
            "questions[0].weight",
            "maximum of 1000",
        ),
        (
            form_edit(0, "weight", Some(1.5.into())),
            "questions[0].weight",
            "integer",
        ),
        (
            form_edit(0, "weight", Some((-1).into())),
            "questions[0].weight",
            "negative",
        ),
        (
            form_edit(3, "weight", Some(1.into())),
            "questions[3].weight",
            "not scored",
        ),
        (
            form_edit(3, "critical", Some(true.into())),
            "questions[3].critical",
            "cannot be critical",
        ),
        (
            form_edit(1, "min", Some(5.into())),
            "questions[1].max",
            "greater than min",
        ),
        (
            form_edit(1, "max", Some(1001.into())),
            "questions[1].max",
            "maximum of 1000",
        ),
        (form_edit(1, "min", None), "questions[1].min", "missing"),
        (
            form_edit(0, "min", Some(1.into())),
            "questions[0].min",
            "not a member of a yes_no question",
        ),
        (
            form_edit(1, "choices", Some(json!([]))),
            "questions[1].choices",
            "not a member of a scale",
        ),
        (
            form_edit(2, "choices", Some(json!([{"value":"yes","points":100}]))),
            "questions[2].choices",
            "2 to 50",
        ),
        (
            form_edit(
                2,
                "choices",
                Some(json!([{"value":"a","points":1},{"value":"a","points":2}])),
            ),
            "questions[2].choices[1].value",
            "duplicate choice",
        ),
        (
            form_edit(
                2,
                "choices",
                Some(json!([{"value":"a","points":101},{"value":"b","points":2}])),
            ),
            "questions[2].choices[0].points",
            "maximum of 100",
        ),
        (
            form_edit(
                2,
                "choices",
                Some(json!([{"value":"a"},{"value":"b","points":2}])),
            ),
            "questions[2].choices[0].points",
            "missing",
        ),
        (
            form_edit(
                2,
                "choices",
                Some(json!([{"value":"a","points":1,"x":1},{"value":"b","points":2}])),
            ),
            "questions[2].choices[0].x",
            "not a member of a choice",
        ),
        (
            form_edit(2, "choices", None),
            "questions[2].choices",
            "missing",
        ),
        (
            form_edit(1, "id", Some("greeting".into())),
            "questions[1].id",
            "duplicate question id",
        ),
        (
            form_edit(0, "id", Some("".into())),
            "questions[0].id",
            "1 to 256",
        ),
        (
            form_edit(0, "required", Some(Value::Null)),
            "questions[0].required",
            "null",
        ),
        (
            form_edit(0, "critical", Some("yes".into())),
            "questions[0].critical",
            "true or false",
        ),
        (
            form_edit(0, "text", Some("x".repeat(4097).into())),
            "questions[0].text",
            "4096",
        ),
        (
            FORM.replacen(r#""id":"greeting""#, r#""id":"greeting","id":"g""#, 1),
            "questions[0].id",
            "duplicate member name",
        ),
        ("[]".into(), "$", "expected an object"),
        ("{".into(), "$", "malformed JSON"),
    ];
    check_refusals(&cases, Form::from_json);
}

/// `ANSWERS` with the answer to `q` replaced (`None`: removed).
fn answers_edit(q: &str, a: Option<Value>) -> String {
    let mut v: Value = serde_json::from_str(ANSWERS).unwrap();
    let o = v["answers"].as_object_mut().unwrap();
    match a {
        Some(a) => o.insert(q.into(), a),
        None => o.remove(q),
    };
    v.to_string()
}

#[test]
fn answer_refusals_name_their_path_in_the_answers_document() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            ANSWERS.replace("\"qa-basic\"", "\"qa-other\""),
            "form",
            "for form \"qa-other\"",
        ),
        (
            ANSWERS.replace("\"version\":3", "\"version\":2"),
            "version",
            "version 2",
        ),
        (
            ANSWERS.replace("\"version\":3", "\"version\":null"),
            "version",
            "null",
        ),
        (
            ANSWERS.replacen("{\"form\"", "{\"x\":1,\"form\"", 1),
            "x",
            "not a member",
        ),
        (
            answers_edit("x", Some(json!({"value":1}))),
            "answers.x",
            "has no question \"x\"",
        ),
        (
            answers_edit("why?", Some(json!({"value":1}))),
            r#"answers["why?"]"#,
            "no question",
        ),
        (
            answers_edit("greeting", Some(json!({"value":"yes"}))),
            "answers.greeting.value",
            "true or false",
        ),
        (
            answers_edit("greeting", Some(json!({}))),
            "answers.greeting",
            "a value or \"na\"",
        ),
        (
            answers_edit("greeting", Some(json!(true))),
            "answers.greeting",
            "expected an object",
        ),
        (
            answers_edit("greeting", None),
            "answers.greeting",
            "required question \"greeting\"",
        ),
        (
            answers_edit("empathy", None),
            "answers.empathy",
            "or give \"na\": true",
        ),
        (
            answers_edit("empathy", Some(json!({"value":6}))),
            "answers.empathy.value",
            "outside the scale 1 to 5",
        ),
        (
            answers_edit("empathy", Some(json!({"value":0}))),
            "answers.empathy.value",
            "outside the scale",
        ),
        (
            answers_edit("empathy", Some(json!({"value":-1}))),
            "answers.empathy.value",
            "negative",
        ),
        (
            answers_edit("empathy", Some(json!({"value":2.5}))),
            "answers.empathy.value",
            "integer",
        ),
        (
            answers_edit("empathy", Some(json!({"value":"4"}))),
            "answers.empathy.value",
            "an integer",
        ),
        (
            answers_edit("empathy", Some(json!({"value":3,"na":true}))),
            "answers.empathy.na",
            "not both",
        ),
        (
            answers_edit("empathy", Some(json!({"na":false}))),
            "answers.empathy.na",
            "only ever true",
        ),
        (
            answers_edit("empathy", Some(json!({"na":"yes"}))),
            "answers.empathy.na",
            "true or false",
        ),
        (
            answers_edit("resolution", Some(json!({"value":"maybe"}))),
            "answers.resolution.value",
            "not one of the choices (\"yes\", \"partly\", \"no\")",
        ),
        (
            answers_edit("resolution", Some(json!({"na":true}))),
            "answers.resolution.na",
            "does not allow",
        ),
        (
            answers_edit("notes", Some(json!({"value":5}))),
            "answers.notes.value",
            "a string for a text question",
        ),
        (
            answers_edit("notes", Some(json!({"value":"x".repeat(4097)}))),
            "answers.notes.value",
            "4096",
        ),
        (
            answers_edit(
                "greeting",
                Some(json!({"value":true,"comment":"x".repeat(4097)})),
            ),
            "answers.greeting.comment",
            "4096",
        ),
        (
            answers_edit("greeting", Some(json!({"value":true,"comment":null}))),
            "answers.greeting.comment",
            "null",
        ),
        (
            answers_edit("greeting", Some(json!({"value":true,"score":1}))),
            "answers.greeting.score",
            "not a member of an answer",
        ),
        (
            ANSWERS.replace("\"warm\"}", "\"warm\",\"value\":false}"),
            "answers.greeting.value",
            "duplicate member name",
        ),
    ];
    let f = form();
    check_refusals(&cases, |t| Answers::from_json(t, &f));
    // Optional questions may be left out; "na" where allowed counts as an answer.
    let ok = answers_edit("notes", None);
    let ok = ok.replace(r#"{"value":4}"#, r#"{"na":true}"#);
    let a = Answers::from_json(ok.as_bytes(), &f).unwrap();
    assert_eq!(a.answers["empathy"].value, AnswerValue::Na);
}

/// A form of yes_no, scale and choice questions for the scoring table.
fn scoring_form(pass_percent: u8, questions: Vec<Question>) -> Form {
    Form {
        id: "s".into(),
        version: 1,
        title: None,
        pass_percent,
        questions,
    }
}

fn q(id: &str, kind: QuestionKind, weight: u32, critical: bool) -> Question {
    Question {
        id: id.into(),
        text: String::new(),
        kind,
        weight,
        critical,
        required: false,
        allow_na: true,
    }
}

#[test]
fn scoring_table() {
    use AnswerValue as A;
    use QuestionKind as K;
    let choices = || {
        K::Choice(vec![
            Choice {
                value: "full".into(),
                points: 100,
            },
            Choice {
                value: "most".into(),
                points: 80,
            },
            Choice {
                value: "almost".into(),
                points: 79,
            },
            Choice {
                value: "none".into(),
                points: 0,
            },
        ])
    };
    let example = || form().questions;
    // (form, answers, earned_milli, possible_milli, percent_bp, pass, critical_failed)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        Form,
        Vec<(&str, AnswerValue)>,
        u64,
        u64,
        u32,
        bool,
        Vec<&str>,
    )> = vec![
        (
            scoring_form(80, example()),
            vec![
                ("greeting", A::YesNo(true)),
                ("empathy", A::Scale(5)),
                ("resolution", A::Choice("yes".into())),
            ],
            60_000,
            60_000,
            10_000,
            true,
            vec![],
        ),
        // A critical 0-point choice fails the form whatever the score.
        (
            scoring_form(0, example()),
            vec![
                ("greeting", A::YesNo(true)),
                ("empathy", A::Scale(5)),
                ("resolution", A::Choice("no".into())),
            ],
            30_000,
            60_000,
            5000,
            false,
            vec!["resolution"],
        ),
        // NA and unanswered questions count neither way.
        (
            scoring_form(80, example()),
            vec![
                ("greeting", A::YesNo(true)),
                ("empathy", A::Na),
                ("resolution", A::Choice("yes".into())),
            ],
            40_000,
            40_000,
            10_000,
            true,
            vec![],
        ),
        (
            scoring_form(80, vec![q("g", K::YesNo, 10, false)]),
            vec![("g", A::YesNo(false))],
            0,
            10_000,
            0,
            false,
            vec![],
        ),
        // Each question's share is rounded to thousandths of a point, halves up.
        (
            scoring_form(0, vec![q("a", K::Scale { min: 0, max: 3 }, 1, false)]),
            vec![("a", A::Scale(1))],
            333,
            1000,
            3330,
            true,
            vec![],
        ),
        (
            scoring_form(0, vec![q("a", K::Scale { min: 0, max: 3 }, 1, false)]),
            vec![("a", A::Scale(2))],
            667,
            1000,
            6670,
            true,
            vec![],
        ),
        (
            scoring_form(0, vec![q("a", K::Scale { min: 0, max: 16 }, 1, false)]),
            vec![("a", A::Scale(1))],
            63,
            1000,
            630,
            true,
            vec![],
        ),
        // The percentage rounds halves up: 1/8 of a point in 4 points is 3.125 %.
        (
            scoring_form(
                0,
                vec![
                    q("a", K::Scale { min: 0, max: 8 }, 1, false),
                    q("b", K::YesNo, 3, false),
                ],
            ),
            vec![("a", A::Scale(1)), ("b", A::YesNo(false))],
            125,
            4000,
            313,
            true,
            vec![],
        ),
        // The pass mark is compared exactly: 80 of 100 passes 80 %, 79 does not.
        (
            scoring_form(80, vec![q("c", choices(), 1, false)]),
            vec![("c", A::Choice("most".into()))],
            800,
            1000,
            8000,
            true,
            vec![],
        ),
        (
            scoring_form(80, vec![q("c", choices(), 1, false)]),
            vec![("c", A::Choice("almost".into()))],
            790,
            1000,
            7900,
            false,
            vec![],
        ),
        // Nothing possible: 100 %, and a pass unless a critical question failed.
        (
            scoring_form(
                100,
                vec![q("g", K::YesNo, 0, true), q("h", K::YesNo, 5, false)],
            ),
            vec![("g", A::YesNo(true))],
            0,
            0,
            10_000,
            true,
            vec![],
        ),
        (
            scoring_form(
                0,
                vec![
                    q("g", K::YesNo, 0, true),
                    q("h", K::Scale { min: 2, max: 4 }, 0, true),
                ],
            ),
            vec![("g", A::YesNo(false)), ("h", A::Scale(2))],
            0,
            0,
            10_000,
            false,
            vec!["g", "h"],
        ),
        // NA never fails a critical question; the scale's minimum does.
        (
            scoring_form(
                0,
                vec![
                    q("g", K::YesNo, 2, true),
                    q("h", K::Scale { min: 2, max: 4 }, 2, true),
                ],
            ),
            vec![("g", A::Na), ("h", A::Scale(3))],
            1000,
            2000,
            5000,
            true,
            vec![],
        ),
        // Largest form: 200 questions of weight 1000.
        (
            scoring_form(
                100,
                (0..200)
                    .map(|i| {
                        q(
                            &format!("q{i:03}"),
                            K::Scale { min: 0, max: 999 },
                            1000,
                            false,
                        )
                    })
                    .collect(),
            ),
            (0..200)
                .map(|i| {
                    (
                        &*Box::leak(format!("q{i:03}").into_boxed_str()),
                        A::Scale(998),
                    )
                })
                .collect(),
            // Each is 1000 * 1000 * 998/999 = 998998.999 rounded up: 998999.
            199_799_800,
            200_000_000,
            9990,
            false,
            vec![],
        ),
    ];
    for (i, (f, answers, earned, possible, bp, pass, failed)) in cases.into_iter().enumerate() {
        f.validate().unwrap();
        let a = Answers {
            form: f.id.clone(),
            version: f.version,
            answers: answers
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Answer {
                            value: v,
                            comment: None,
                        },
                    )
                })
                .collect(),
        };
        let s = f.score(&a).unwrap_or_else(|e| panic!("case {i}: {e}"));
        let want = Score {
            earned_milli: earned,
            possible_milli: possible,
            percent_bp: bp,
            pass,
            critical_failed: failed.into_iter().map(String::from).collect(),
        };
        assert_eq!(s, want, "case {i}");
    }
}

fn rec(ops: &str) -> String {
    format!(r#"{{"by":"qa.lead@example.com","at":"2026-12-01T10:00:00Z","ops":[{ops}]}}"#)
}

fn questionnaire_op() -> Value {
    let f = form();
    let a = Answers::from_json(ANSWERS.as_bytes(), &f).unwrap();
    Op::Questionnaire(Box::new(Questionnaire::new(f, a).unwrap())).to_value()
}

fn q_op_edit(edit: impl FnOnce(&mut Value)) -> String {
    let mut v = questionnaire_op();
    edit(&mut v);
    rec(&v.to_string())
}

#[test]
fn record_refusals_name_their_path() {
    let many = vec![r#"{"op":"tag","tag":"a"}"#; 257].join(",");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            rec(r#"{"op":"tag","tag":"a"}"#).replace("qa.lead@example.com", ""),
            "by",
            "1 to 256",
        ),
        (
            rec(r#"{"op":"tag","tag":"a"}"#).replace("T10:00:00Z", ""),
            "at",
            "YYYY-MM-DD",
        ),
        (
            rec(r#"{"op":"tag","tag":"a"}"#).replace("00Z", "00+00:00"),
            "at",
            "UTC",
        ),
        (rec(""), "ops", "1 to 256 ops"),
        (rec(&many), "ops", "1 to 256 ops"),
        (
            rec(r#"{"op":"tag","tag":"a"}"#).replace("}]", "}],\"x\":1"),
            "x",
            "not a member of a record",
        ),
        (
            rec(r#"{"op":"tag","tag":"a"}"#).replace("}]", "}],\"note\":null"),
            "note",
            "null",
        ),
        (
            rec(r#"{"op":"tag","tag":"a"}"#)
                .replace("}]", &format!("}}],\"note\":\"{}\"", "n".repeat(4097))),
            "note",
            "4096",
        ),
        (
            rec(r#"{"op":"tag","tag":"a"},{"op":"star","tag":"a"}"#),
            "ops[1].op",
            "unknown op \"star\"",
        ),
        (rec(r#"{"tag":"a"}"#), "ops[0].op", "missing"),
        (rec(r#"{"op":1}"#), "ops[0].op", "expected a string"),
        (rec(r#""tag""#), "ops[0]", "expected an object"),
        (
            rec(r#"{"op":"tag","tag":"a","color":"red"}"#),
            "ops[0].color",
            "not a member of a tag op",
        ),
        (
            rec(r#"{"op":"untag","key":"a"}"#),
            "ops[0].key",
            "not a member of an untag op",
        ),
        (rec(r#"{"op":"tag","tag":null}"#), "ops[0].tag", "null"),
        (rec(r#"{"op":"tag"}"#), "ops[0].tag", "missing"),
        (
            rec(&format!(r#"{{"op":"tag","tag":"{}"}}"#, "t".repeat(257))),
            "ops[0].tag",
            "1 to 256",
        ),
        (
            rec(r#"{"op":"label","label":""}"#),
            "ops[0].label",
            "1 to 256",
        ),
        (
            rec(r#"{"op":"tag","tag":"a","tag":"b"}"#),
            "ops[0].tag",
            "duplicate member name",
        ),
        (rec(r#"{"op":"attr","key":"k"}"#), "ops[0].value", "missing"),
        (
            rec(&format!(
                r#"{{"op":"attr","key":"k","value":"{}"}}"#,
                "v".repeat(4097)
            )),
            "ops[0].value",
            "4096",
        ),
        (
            rec(r#"{"op":"attr","key":"k","value":7}"#),
            "ops[0].value",
            "expected a string",
        ),
        (
            rec(r#"{"op":"retention","days":0}"#),
            "ops[0].days",
            "1 to 36500",
        ),
        (
            rec(r#"{"op":"retention","days":36501}"#),
            "ops[0].days",
            "maximum of 36500",
        ),
        (
            rec(r#"{"op":"retention","days":"30"}"#),
            "ops[0].days",
            "integer",
        ),
        (
            rec(r#"{"op":"retention","days":30,"until":"2030-01-01"}"#),
            "ops[0].until",
            "not both",
        ),
        (
            rec(r#"{"op":"retention"}"#),
            "ops[0].days",
            "either days or until",
        ),
        (
            rec(r#"{"op":"retention","until":"2026-02-30"}"#),
            "ops[0].until",
            "no such calendar date",
        ),
        (
            rec(r#"{"op":"retention","until":"2026-1-01"}"#),
            "ops[0].until",
            "not a date",
        ),
        (
            rec(r#"{"op":"retention","until":"2026-01-01T00:00:00Z"}"#),
            "ops[0].until",
            "not a date",
        ),
        (
            rec(r#"{"op":"retention","until":"２026-01-01"}"#),
            "ops[0].until",
            "not a date",
        ),
        (
            rec(r#"{"op":"hold","case":"c"},{"op":"release"}"#),
            "ops[1].case",
            "missing",
        ),
        (
            rec(r#"{"op":"hold","case":"c","until":"2030-01-01"}"#),
            "ops[0].until",
            "not a member of a hold op",
        ),
        (
            q_op_edit(|v| v["result"]["percent_bp"] = 6666.into()),
            "ops[0].result",
            "differs from the one computed",
        ),
        (
            q_op_edit(|v| v["result"]["critical_failed"] = json!(["resolution"])),
            "ops[0].result",
            "differs",
        ),
        (
            q_op_edit(|v| {
                v["result"].as_object_mut().unwrap().remove("pass");
            }),
            "ops[0].result.pass",
            "missing",
        ),
        (
            q_op_edit(|v| v["result"]["bonus"] = 1.into()),
            "ops[0].result.bonus",
            "not a member",
        ),
        (
            q_op_edit(|v| v["result"]["percent_bp"] = 10001.into()),
            "ops[0].result.percent_bp",
            "maximum",
        ),
        (
            q_op_edit(|v| {
                v.as_object_mut().unwrap().remove("result");
            }),
            "ops[0].result",
            "missing",
        ),
        (
            q_op_edit(|v| v["form"]["questions"][2]["weight"] = 5000.into()),
            "ops[0].form.questions[2].weight",
            "maximum of 1000",
        ),
        (
            q_op_edit(|v| v["answers"]["answers"]["empathy"]["value"] = 9.into()),
            "ops[0].answers.answers.empathy.value",
            "outside the scale",
        ),
        (
            q_op_edit(|v| v["answers"]["version"] = 4.into()),
            "ops[0].answers.version",
            "version 4",
        ),
        (
            q_op_edit(|v| {
                v["answers"]["answers"]
                    .as_object_mut()
                    .unwrap()
                    .remove("greeting");
            }),
            "ops[0].answers.answers.greeting",
            "required question",
        ),
        ("not json".into(), "$", "malformed JSON"),
        (format!("[{}]", "[".repeat(40)), "$", "nesting depth"),
    ];
    check_refusals(&cases, Record::from_json);
}

#[test]
fn a_record_with_every_op_round_trips() {
    let text = rec(&format!(
        r#"{{"op":"tag","tag":"escalated"}},{{"op":"untag","tag":"new"}},
        {{"op":"attr","key":"crm.case","value":"12345"}},{{"op":"unattr","key":"old"}},
        {},{{"op":"retention","days":365}},{{"op":"retention","until":"2030-06-30"}},
        {{"op":"hold","case":"case-7"}},{{"op":"release","case":"case-6"}},
        {{"op":"label","label":"pii"}},{{"op":"unlabel","label":"public"}}"#,
        questionnaire_op()
    ));
    let text = format!(
        "{}{}",
        &text[..text.len() - 1],
        r#","note":"monthly review"}"#
    );
    let r = Record::from_json(text.as_bytes()).unwrap();
    assert_eq!(r.ops.len(), 11);
    assert_eq!(r.note.as_deref(), Some("monthly review"));
    assert_eq!(
        r.ops[6],
        Op::Retention(RetentionRule::Until(
            Date::from_calendar_date(2030, Month::June, 30).unwrap()
        ))
    );
    let out = r.to_json();
    assert_eq!(Record::from_json(&out).unwrap(), r);
    // Canonical: the stored text is the compact form of the input, members in order.
    let compact = serde_json::to_vec(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(compact).unwrap()
    );
}

#[test]
fn validate_refuses_what_a_typed_record_can_hold_but_json_cannot() {
    let f = form();
    let a = Answers::from_json(ANSWERS.as_bytes(), &f).unwrap();
    let good = Questionnaire::new(f.clone(), a.clone()).unwrap();
    let base = Record {
        by: "me".into(),
        at: "2026-12-01T10:00:00Z".into(),
        ops: vec![Op::Tag("t".into())],
        note: None,
    };
    let with = |op: Op| Record {
        ops: vec![Op::Tag("t".into()), op],
        ..base.clone()
    };
    let mut bad_result = good.clone();
    bad_result.result.pass = true;
    let mut bad_kind = good.clone();
    bad_kind.answers.answers.get_mut("greeting").unwrap().value = AnswerValue::Scale(1);
    let mut bad_points = good.clone();
    if let QuestionKind::Choice(cs) = &mut bad_points.form.questions[2].kind {
        cs[0].points = 101;
    }
    let mut bad_pass = good.clone();
    bad_pass.form.pass_percent = 101;
    let cases = [
        (with(Op::Retention(RetentionRule::Days(0))), "ops[1].days"),
        (
            with(Op::Retention(RetentionRule::Days(36501))),
            "ops[1].days",
        ),
        (
            with(Op::Questionnaire(Box::new(bad_result))),
            "ops[1].result",
        ),
        (
            with(Op::Questionnaire(Box::new(bad_kind))),
            "ops[1].answers.answers.greeting.value",
        ),
        (
            with(Op::Questionnaire(Box::new(bad_points))),
            "ops[1].form.questions[2].choices[0].points",
        ),
        (
            with(Op::Questionnaire(Box::new(bad_pass))),
            "ops[1].form.pass_percent",
        ),
        (with(Op::Hold(String::new())), "ops[1].case"),
        (
            Record {
                ops: vec![],
                ..base.clone()
            },
            "ops",
        ),
        (
            Record {
                at: "2026-12-01T10:00:60Z".into(),
                ..base.clone()
            },
            "at",
        ),
    ];
    for (r, path) in cases {
        assert_eq!(refusal(r.validate()).0, path);
    }
    assert!(base.validate().is_ok());
    // Valid members, but a text a reader would refuse as too long.
    let big = Record {
        ops: (0..MAX_OPS)
            .map(|i| Op::Attr {
                key: format!("k{i}"),
                value: "v".repeat(4096),
            })
            .collect(),
        ..base.clone()
    };
    assert_eq!(refusal(big.validate()).0, "$");
    assert_eq!(refusal(Record::from_json(&big.to_json())).0, "$");
    // Questionnaire::new refuses answers for another form.
    let mut other = a;
    other.form = "x".into();
    assert_eq!(refusal(Questionnaire::new(f, other)).0, "form");
}

fn record(ops: &str) -> Record {
    Record::from_json(rec(ops).as_bytes()).unwrap()
}

#[test]
fn state_applies_ops_in_order_and_odd_history_never_fails() {
    let mut s = State::new();
    s.apply(
        1,
        &record(
            r#"{"op":"tag","tag":"a"},{"op":"tag","tag":"b"},{"op":"untag","tag":"a"},
            {"op":"attr","key":"k","value":"v"},{"op":"attr","key":"k","value":"w"},
            {"op":"label","label":"pii"},{"op":"hold","case":"c1"},
            {"op":"retention","days":30}"#,
        ),
    )
    .unwrap();
    let mut later = record(
        r#"{"op":"hold","case":"c1"},{"op":"release","case":"c2"},{"op":"untag","tag":"zzz"},
        {"op":"unattr","key":"nope"},{"op":"unlabel","label":"nope"},{"op":"hold","case":"c3"},
        {"op":"release","case":"c3"}"#,
    );
    later.by = "other".into();
    s.apply(4, &later).unwrap();
    assert_eq!(s.tags, BTreeSet::from(["b".to_string()]));
    assert_eq!(s.attributes["k"], "w");
    assert_eq!(s.labels, BTreeSet::from(["pii".to_string()]));
    // A hold already active keeps where it began.
    assert_eq!(s.holds.len(), 1);
    assert_eq!(s.holds["c1"].segment, 1);
    assert_eq!(s.holds["c1"].by, "qa.lead@example.com");
    assert_eq!(s.retention.as_ref().unwrap().rule, RetentionRule::Days(30));
    // Segments go forward only.
    for seg in [4, 3] {
        let e = s.apply(seg, &later).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Misuse { .. }), "{e}");
    }
    let mut invalid = later.clone();
    invalid.ops.clear();
    assert_eq!(refusal(s.apply(5, &invalid)).0, "ops");
    let j = s.to_json();
    assert_eq!(j["tags"], json!(["b"]));
    assert_eq!(j["attributes"], json!({"k": "w"}));
    assert_eq!(
        j["retention"],
        json!({"days": 30, "segment": 1, "by": "qa.lead@example.com", "at": "2026-12-01T10:00:00Z"})
    );
    assert_eq!(
        j["holds"],
        json!({"c1": {"segment": 1, "by": "qa.lead@example.com", "at": "2026-12-01T10:00:00Z"}})
    );
    assert_eq!(j["labels"], json!(["pii"]));
    assert_eq!(j["questionnaires"], json!({}));
    assert!(State::new().to_json().get("retention").is_none());
}

#[test]
fn the_latest_questionnaire_per_form_id_is_kept() {
    let f = form();
    let mut s = State::new();
    s.apply(1, &record(&questionnaire_op().to_string()))
        .unwrap();
    let better = ANSWERS
        .replace(r#""partly""#, r#""yes""#)
        .replace(r#"{"value":4}"#, r#"{"value":5}"#);
    let a = Answers::from_json(better.as_bytes(), &f).unwrap();
    let op = Op::Questionnaire(Box::new(Questionnaire::new(f.clone(), a.clone()).unwrap()));
    s.apply(2, &record(&op.to_value().to_string())).unwrap();
    assert_eq!(s.questionnaires.len(), 1);
    let q = &s.questionnaires["qa-basic"];
    assert_eq!(q.stamp.segment, 2);
    assert_eq!(q.answers, a);
    assert!(q.result.pass);
    let j = s.to_json();
    let e = &j["questionnaires"]["qa-basic"];
    assert_eq!(e["segment"], 2);
    assert_eq!(e["form"]["version"], 3);
    assert_eq!(e["answers"]["answers"]["empathy"]["value"], 5);
    assert_eq!(e["result"]["percent_bp"], 10_000);
    assert_eq!(e["result"]["pass"], true);
}

#[test]
fn check_new_refuses_removing_what_is_absent() {
    let mut s = State::new();
    s.apply(
        1,
        &record(
            r#"{"op":"tag","tag":"a"},{"op":"label","label":"l"},
            {"op":"attr","key":"k","value":"v"},{"op":"hold","case":"c"}"#,
        ),
    )
    .unwrap();
    for (ops, refused) in [
        (r#"{"op":"untag","tag":"a"}"#, None),
        (r#"{"op":"tag","tag":"b"},{"op":"untag","tag":"b"}"#, None),
        (r#"{"op":"release","case":"c"}"#, None),
        (
            r#"{"op":"unlabel","label":"l"},{"op":"unattr","key":"k"}"#,
            None,
        ),
        (r#"{"op":"tag","tag":"a"}"#, None),
        (r#"{"op":"untag","tag":"b"}"#, Some("ops[0].tag")),
        (
            r#"{"op":"untag","tag":"a"},{"op":"untag","tag":"a"}"#,
            Some("ops[1].tag"),
        ),
        (
            r#"{"op":"tag","tag":"x"},{"op":"unlabel","label":"m"}"#,
            Some("ops[1].label"),
        ),
        (r#"{"op":"unattr","key":"z"}"#, Some("ops[0].key")),
        (r#"{"op":"release","case":"d"}"#, Some("ops[0].case")),
        (
            r#"{"op":"release","case":"c"},{"op":"release","case":"c"}"#,
            Some("ops[1].case"),
        ),
        (
            r#"{"op":"hold","case":"d"},{"op":"release","case":"d"}"#,
            None,
        ),
    ] {
        let r = s.check_new(&record(ops));
        match refused {
            None => assert!(r.is_ok(), "{ops}: {r:?}"),
            Some(path) => {
                let (p, reason) = refusal(r);
                assert_eq!(p, path, "{ops}");
                assert!(reason.contains("to remove"), "{reason}");
            }
        }
    }
    // check_new leaves the state alone, and refuses an invalid record.
    assert_eq!(s.tags.len(), 1);
    let mut bad = record(r#"{"op":"tag","tag":"x"}"#);
    bad.by.clear();
    assert_eq!(refusal(s.check_new(&bad)).0, "by");
}

#[test]
fn effective_retention_table() {
    let date = |y, m: u8, d| Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap();
    let at = |s: &str| Some(parse_utc(s).unwrap());
    let start = at("2026-01-01T10:00:00Z");
    // 2026-01-01T23:30:00-02:00.
    let minus2 = Some(
        parse_utc("2026-01-02T01:30:00Z")
            .unwrap()
            .to_offset(UtcOffset::from_hms(-2, 0, 0).unwrap()),
    );
    let state = |ops: &str| {
        let mut s = State::new();
        if !ops.is_empty() {
            s.apply(1, &record(ops)).unwrap();
        }
        s
    };
    let cases = [
        ("", start, 0, Retention::Unspecified),
        ("", None, 0, Retention::Unspecified),
        ("", start, u32::MAX, Retention::Indefinite),
        ("", start, 30, Retention::Until(date(2026, 1, 31))),
        ("", None, 30, Retention::Days(30)),
        ("", start, u32::MAX - 1, Retention::Indefinite),
        (
            r#"{"op":"retention","days":10}"#,
            at("2026-12-25T23:30:00Z"),
            30,
            Retention::Until(date(2027, 1, 4)),
        ),
        (
            r#"{"op":"retention","days":1}"#,
            minus2,
            0,
            Retention::Until(date(2026, 1, 3)),
        ),
        (
            r#"{"op":"retention","days":10}"#,
            None,
            u32::MAX,
            Retention::Days(10),
        ),
        (
            r#"{"op":"retention","days":36500}"#,
            at("9990-01-01T00:00:00Z"),
            0,
            Retention::Indefinite,
        ),
        (
            r#"{"op":"retention","until":"2030-01-01"}"#,
            start,
            u32::MAX,
            Retention::Until(date(2030, 1, 1)),
        ),
        (
            r#"{"op":"retention","until":"2030-01-01"},{"op":"retention","days":5}"#,
            start,
            0,
            Retention::Until(date(2026, 1, 6)),
        ),
        (
            r#"{"op":"retention","until":"2030-01-01"},{"op":"hold","case":"b"},{"op":"hold","case":"a"}"#,
            start,
            0,
            Retention::Held {
                cases: vec!["a".into(), "b".into()],
            },
        ),
        (
            r#"{"op":"hold","case":"a"},{"op":"release","case":"a"}"#,
            start,
            0,
            Retention::Unspecified,
        ),
    ];
    for (ops, started, header, want) in cases {
        assert_eq!(
            state(ops).effective_retention(started, header),
            want,
            "{ops} {started:?} {header}"
        );
    }
}

#[test]
fn dates_parse_and_format_strictly() {
    for s in ["0000-01-01", "2024-02-29", "9999-12-31"] {
        assert_eq!(format_date(parse_date(s).unwrap()), s);
    }
    for s in [
        "2025-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "2026-01-1",
        "20260101",
        "2026-01-01 ",
        "+2026-01-01",
        "2026/01/01",
        "",
    ] {
        assert!(parse_date(s).is_err(), "{s:?}");
    }
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

fn id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{1,3}", "[a-zA-Z0-9 .?\"\\\\é]{1,6}"]
}

fn answers_for_example() -> impl Strategy<Value = Answers> {
    let ans = |v: BoxedStrategy<AnswerValue>| {
        (v, proptest::option::of("[ -~]{0,8}"))
            .prop_map(|(value, comment)| Answer { value, comment })
    };
    (
        ans(any::<bool>().prop_map(AnswerValue::YesNo).boxed()),
        ans(prop_oneof![
            (1u32..=5).prop_map(AnswerValue::Scale),
            Just(AnswerValue::Na)
        ]
        .boxed()),
        ans(prop_oneof!["yes", "partly", "no"]
            .prop_map(|s: String| AnswerValue::Choice(s))
            .boxed()),
        proptest::option::of(ans("[ -~]{0,12}".prop_map(AnswerValue::Text).boxed())),
    )
        .prop_map(|(g, e, r, n)| {
            let mut answers = BTreeMap::from([
                ("greeting".to_string(), g),
                ("empathy".to_string(), e),
                ("resolution".to_string(), r),
            ]);
            if let Some(n) = n {
                answers.insert("notes".into(), n);
            }
            Answers {
                form: "qa-basic".into(),
                version: 3,
                answers,
            }
        })
}

fn op() -> impl Strategy<Value = Op> {
    let small = || prop_oneof!["a", "b", "c"];
    prop_oneof![
        small().prop_map(Op::Tag),
        small().prop_map(Op::Untag),
        (small(), "[ -~]{0,10}").prop_map(|(key, value)| Op::Attr { key, value }),
        small().prop_map(Op::Unattr),
        answers_for_example()
            .prop_map(|a| Op::Questionnaire(Box::new(Questionnaire::new(form(), a).unwrap()))),
        (1u32..=MAX_RETENTION_DAYS).prop_map(|d| Op::Retention(RetentionRule::Days(d))),
        (0i32..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Op::Retention(
            RetentionRule::Until(
                Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
            )
        )),
        small().prop_map(Op::Hold),
        small().prop_map(Op::Release),
        id().prop_map(Op::Label),
        small().prop_map(Op::Unlabel),
    ]
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        id(),
        (
            0u32..=9999,
            0u64..86_400,
            proptest::option::of(1u32..1_000_000_000),
        ),
        proptest::collection::vec(op(), 1..8),
        proptest::option::of("[ -~]{0,20}"),
    )
        .prop_map(|(by, (y, secs, nanos), ops, note)| {
            let mut at = format!(
                "{y:04}-03-01T{:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
            if let Some(n) = nanos {
                at.push_str(&format!(".{n:09}"));
            }
            at.push('Z');
            Record { by, at, ops, note }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn record_json_round_trips(r in arb_record()) {
        r.validate().unwrap();
        let text = r.to_json();
        let back = Record::from_json(&text).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.to_json(), text);
    }

    #[test]
    fn state_derivation_is_deterministic(records in proptest::collection::vec(arb_record(), 0..6)) {
        let derive = |rs: &[Record]| {
            let mut s = State::new();
            for (i, r) in rs.iter().enumerate() {
                s.apply(i as u32 * 2 + 1, r).unwrap();
            }
            s
        };
        let a = derive(&records);
        // The same history, through its stored JSON, gives the same state.
        let stored: Vec<Record> = records.iter().map(|r| Record::from_json(&r.to_json()).unwrap()).collect();
        let b = derive(&stored);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(
            serde_json::to_vec(&a.to_json()).unwrap(),
            serde_json::to_vec(&b.to_json()).unwrap()
        );
        // A writer's check never refuses anything but a removal of what is absent.
        if let Some(r) = records.first() {
            if let Err(e) = a.check_new(r) {
                prop_assert!(e.to_string().contains("to remove"), "{}", e);
            }
        }
        let at = Some(parse_utc("2026-01-01T00:00:00Z").unwrap());
        prop_assert_eq!(a.effective_retention(at, 90), b.effective_retention(at, 90));
    }

    #[test]
    fn scores_are_bounded(a in answers_for_example()) {
        let s = form().score(&a).unwrap();
        prop_assert!(s.earned_milli <= s.possible_milli);
        prop_assert!(s.percent_bp <= 10_000);
        prop_assert_eq!(s.pass, s.critical_failed.is_empty() && 100 * s.earned_milli >= 80 * s.possible_milli);
    }
}
