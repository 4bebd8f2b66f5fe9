//! The model of appended annotations (issue 13): the JSON record one annotation
//! segment stores, quality questionnaires (definition, answers, scoring), and the
//! derivation of a recording's current annotation state from its history.
//!
//! Pure and self-contained: no byte format here. The segment code hands the payload to
//! [`Record::from_json`], and folds the records of a file's segments, in file order,
//! into a [`State`] with [`State::apply`]. A writer builds a [`Record`], asks
//! [`State::check_new`] whether it may be appended to the current state, and stores
//! [`Record::to_json`].
//!
//! # JSON rules
//! Every text goes through the crate's strict profile (`docs/FORMAT.md` §9.2): unique
//! member names, no `null` for a defined member (omit it), integers at most 2^53, ids
//! 1 to 256 bytes, other strings at most 4096 bytes. In addition, every object here is
//! closed: a member this module does not define is refused, and so is an unknown `op`
//! or question `type`.
//!
//! # Paths
//! Every refusal is an [`crate::ErrorKind::InvalidMetadata`] whose `path` names the
//! offending member, rooted at the document being read:
//! - a record: `by`, `ops[1].tag`, `ops[0].form.questions[2].weight`,
//!   `ops[0].answers.answers.empathy.value`, `ops[0].result`;
//! - a form on its own ([`Form::from_json`]): `questions[2].weight`;
//! - an answers document on its own ([`Answers::from_json`]): `form`, `version`,
//!   `answers.empathy.value`, `answers.greeting` (a required question left
//!   unanswered, or an answer for a question the form does not have).
//!
//! Member names that are not plain (`[A-Za-z0-9_-]+`) are written as a JSON string in
//! brackets: `answers["why?"].value`. The text as a whole is `$`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use time::{Date, Duration, Month, OffsetDateTime, UtcOffset};

use super::json::{check_json_limits, parse_strict};
use super::rules::{check_id, check_text, check_timestamp, exact_uint, null_member, sub};
use super::{DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_JSON_LEN};
use crate::error::{Error, Result};

/// Longest JSON text of a record, form or answers document, in bytes (the default
/// metadata limit, 1 MiB; a record's canonical text is checked against it too).
pub const MAX_RECORD_LEN: usize = DEFAULT_MAX_JSON_LEN;
/// Most operations one record may hold.
pub const MAX_OPS: usize = 256;
/// Most questions one form may hold.
pub const MAX_QUESTIONS: usize = 200;
/// Fewest choices a `choice` question offers.
pub const MIN_CHOICES: usize = 2;
/// Most choices a `choice` question offers.
pub const MAX_CHOICES: usize = 50;
/// Largest question weight.
pub const MAX_WEIGHT: u32 = 1000;
/// Largest bound of a `scale` question.
pub const MAX_SCALE: u32 = 1000;
/// Largest number of points a choice is worth (it is a percentage).
pub const MAX_POINTS: u8 = 100;
/// Longest retention a `retention` op may set in days (about 100 years).
pub const MAX_RETENTION_DAYS: u32 = 36500;

// ---------------------------------------------------------------------------------
// Records and operations
// ---------------------------------------------------------------------------------

/// The JSON record one annotation segment stores:
/// `{"by": ID, "at": TIMESTAMP, "ops": [OP, ...], "note": TEXT}` (`note` optional;
/// members in this order when written).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Who appended the segment (an id: 1 to 256 bytes, e.g. an e-mail address).
    pub by: String,
    /// When, as a strict UTC timestamp `YYYY-MM-DDTHH:MM:SS[.F]Z`. Informative only:
    /// the order of the history is the order of the segments, never this time.
    pub at: String,
    /// The operations, 1 to [`MAX_OPS`], applied in order.
    pub ops: Vec<Op>,
    /// Free text, at most 4096 bytes.
    pub note: Option<String>,
}

/// One operation of a record: a JSON object whose `op` member names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `{"op":"tag","tag":ID}`: adds a tag.
    Tag(String),
    /// `{"op":"untag","tag":ID}`: removes a tag.
    Untag(String),
    /// `{"op":"attr","key":ID,"value":TEXT}`: sets an attribute (replacing its value).
    Attr {
        /// The attribute's key (an id).
        key: String,
        /// Its value (at most 4096 bytes).
        value: String,
    },
    /// `{"op":"unattr","key":ID}`: removes an attribute.
    Unattr(String),
    /// `{"op":"questionnaire","form":FORM,"answers":ANSWERS,"result":RESULT}`: a filled
    /// quality questionnaire, with the result sasf computed (see [`Form::score`]).
    Questionnaire(Box<Questionnaire>),
    /// `{"op":"retention","days":N}` or `{"op":"retention","until":"YYYY-MM-DD"}`.
    Retention(RetentionRule),
    /// `{"op":"hold","case":ID}`: puts the recording under legal hold for a case.
    Hold(String),
    /// `{"op":"release","case":ID}`: releases the hold of a case.
    Release(String),
    /// `{"op":"label","label":ID}`: adds an access label.
    Label(String),
    /// `{"op":"unlabel","label":ID}`: removes an access label.
    Unlabel(String),
}

/// A filled questionnaire: the form (its whole definition, so that the record stands
/// on its own), the answers and the result computed from both.
#[derive(Debug, Clone, PartialEq)]
pub struct Questionnaire {
    /// The form's definition.
    pub form: Form,
    /// The answers.
    pub answers: Answers,
    /// `form.score(&answers)`; a reader refuses a stored result that differs.
    pub result: Score,
}

impl Questionnaire {
    /// Checks the form and the answers and computes the result.
    pub fn new(form: Form, answers: Answers) -> Result<Questionnaire> {
        form.validate()?;
        let result = form.score(&answers)?;
        Ok(Questionnaire {
            form,
            answers,
            result,
        })
    }
}

/// A retention rule set by a `retention` op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionRule {
    /// Keep for this many days (1 to [`MAX_RETENTION_DAYS`]) from the recording's
    /// start (`started_at`).
    Days(u32),
    /// Keep through the end of this UTC calendar day (`"until": "YYYY-MM-DD"`).
    Until(Date),
}

impl Record {
    /// Parses one record under the strict profile ([`MAX_RECORD_LEN`], depth 32), checks it
    /// ([`Record::validate`]), and recomputes every questionnaire result, refusing a
    /// stored one that differs (`ops[i].result`).
    pub fn from_json(text: &[u8]) -> Result<Record> {
        let v = parse(text)?;
        let r = record_from_value(&v)?;
        r.validate()?;
        Ok(r)
    }

    /// The canonical JSON text: compact, members in the documented order, members
    /// equal to their default omitted. `Record::from_json(&r.to_json())` gives `r` back
    /// for every valid `r`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut m = Map::new();
        m.insert("by".into(), self.by.clone().into());
        m.insert("at".into(), self.at.clone().into());
        m.insert(
            "ops".into(),
            Value::Array(self.ops.iter().map(Op::to_value).collect()),
        );
        if let Some(n) = &self.note {
            m.insert("note".into(), n.clone().into());
        }
        serde_json::to_vec(&Value::Object(m)).expect("a Value always serializes")
    }

    /// Checks every rule a reader applies (paths as in [`Record::from_json`]),
    /// including the length of the canonical text ([`MAX_RECORD_LEN`], path `$`).
    pub fn validate(&self) -> Result<()> {
        check_id(&self.by, "by")?;
        check_timestamp(&self.at, "at")?;
        if self.ops.is_empty() || self.ops.len() > MAX_OPS {
            return Err(Error::metadata(
                "ops",
                format!("a record holds 1 to {MAX_OPS} ops, not {}", self.ops.len()),
            ));
        }
        for (i, op) in self.ops.iter().enumerate() {
            op.validate(&elem("ops", i))?;
        }
        if let Some(n) = &self.note {
            check_text(n, "note")?;
        }
        let len = self.to_json().len();
        if len > MAX_RECORD_LEN {
            return Err(Error::metadata(
                "$",
                format!("the record's JSON is {len} bytes, over the limit of {MAX_RECORD_LEN}"),
            ));
        }
        Ok(())
    }
}

impl Op {
    /// The `op` name.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Tag(_) => "tag",
            Op::Untag(_) => "untag",
            Op::Attr { .. } => "attr",
            Op::Unattr(_) => "unattr",
            Op::Questionnaire(_) => "questionnaire",
            Op::Retention(_) => "retention",
            Op::Hold(_) => "hold",
            Op::Release(_) => "release",
            Op::Label(_) => "label",
            Op::Unlabel(_) => "unlabel",
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("op".into(), self.name().into());
        let mut put = |k: &str, v: Value| {
            m.insert(k.into(), v);
        };
        match self {
            Op::Tag(t) | Op::Untag(t) => put("tag", t.as_str().into()),
            Op::Attr { key, value } => {
                put("key", key.as_str().into());
                put("value", value.as_str().into());
            }
            Op::Unattr(k) => put("key", k.as_str().into()),
            Op::Questionnaire(q) => {
                put("form", q.form.to_value());
                put("answers", q.answers.to_value());
                put("result", q.result.to_value());
            }
            Op::Retention(r) => put_retention(&mut put, r),
            Op::Hold(c) | Op::Release(c) => put("case", c.as_str().into()),
            Op::Label(l) | Op::Unlabel(l) => put("label", l.as_str().into()),
        }
        Value::Object(m)
    }

    fn validate(&self, path: &str) -> Result<()> {
        match self {
            Op::Tag(t) | Op::Untag(t) => check_id(t, &sub(path, "tag")),
            Op::Attr { key, value } => {
                check_id(key, &sub(path, "key"))?;
                check_text(value, &sub(path, "value"))
            }
            Op::Unattr(k) => check_id(k, &sub(path, "key")),
            Op::Questionnaire(q) => {
                q.form.validate_at(&sub(path, "form"))?;
                q.answers.validate_at(&q.form, &sub(path, "answers"))?;
                let computed = q.form.compute(&q.answers);
                if computed != q.result {
                    return Err(Error::metadata(
                        sub(path, "result"),
                        format!(
                            "the stored result {} differs from the one computed from the \
                             form and the answers, {}",
                            q.result.to_value(),
                            computed.to_value()
                        ),
                    ));
                }
                Ok(())
            }
            Op::Retention(RetentionRule::Days(d)) => {
                if !(1..=MAX_RETENTION_DAYS).contains(d) {
                    return Err(Error::metadata(
                        sub(path, "days"),
                        format!("retention days are 1 to {MAX_RETENTION_DAYS}, not {d}"),
                    ));
                }
                Ok(())
            }
            Op::Retention(RetentionRule::Until(d)) => {
                if !(0..=9999).contains(&d.year()) {
                    return Err(Error::metadata(
                        sub(path, "until"),
                        "the year is 0000 to 9999",
                    ));
                }
                Ok(())
            }
            Op::Hold(c) | Op::Release(c) => check_id(c, &sub(path, "case")),
            Op::Label(l) | Op::Unlabel(l) => check_id(l, &sub(path, "label")),
        }
    }
}

fn put_retention(put: &mut impl FnMut(&str, Value), r: &RetentionRule) {
    match r {
        RetentionRule::Days(d) => put("days", (*d).into()),
        RetentionRule::Until(d) => put("until", format_date(*d).into()),
    }
}

fn record_from_value(v: &Value) -> Result<Record> {
    let m = object(v, "")?;
    only(m, &["by", "at", "ops", "note"], "", "a record")?;
    let by = string(req(m, "by", "", "an id")?, "by")?;
    let at = string(req(m, "at", "", "a timestamp")?, "at")?;
    let list = array(req(m, "ops", "", "an array of ops")?, "ops")?;
    if list.is_empty() || list.len() > MAX_OPS {
        return Err(Error::metadata(
            "ops",
            format!("a record holds 1 to {MAX_OPS} ops, not {}", list.len()),
        ));
    }
    let ops = list
        .iter()
        .enumerate()
        .map(|(i, o)| op_from_value(o, &elem("ops", i)))
        .collect::<Result<Vec<_>>>()?;
    let note = opt(m, "note", "")?.map(|n| string(n, "note")).transpose()?;
    Ok(Record { by, at, ops, note })
}

const OP_NAMES: &str =
    "tag, untag, attr, unattr, questionnaire, retention, hold, release, label, unlabel";

fn op_from_value(v: &Value, path: &str) -> Result<Op> {
    let m = object(v, path)?;
    let name_at = sub(path, "op");
    let name = string(req(m, "op", path, "the op's name")?, &name_at)?;
    let members: &[&str] = match name.as_str() {
        "tag" | "untag" => &["op", "tag"],
        "attr" => &["op", "key", "value"],
        "unattr" => &["op", "key"],
        "questionnaire" => &["op", "form", "answers", "result"],
        "retention" => &["op", "days", "until"],
        "hold" | "release" => &["op", "case"],
        "label" | "unlabel" => &["op", "label"],
        other => {
            return Err(Error::metadata(
                name_at,
                format!("unknown op {other:?} (this version defines {OP_NAMES})"),
            ))
        }
    };
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    only(m, members, path, &format!("{article} {name} op"))?;
    let text = |k: &str, what: &str| string(req(m, k, path, what)?, &sub(path, k));
    Ok(match name.as_str() {
        "tag" => Op::Tag(text("tag", "an id")?),
        "untag" => Op::Untag(text("tag", "an id")?),
        "attr" => Op::Attr {
            key: text("key", "an id")?,
            value: text("value", "a string")?,
        },
        "unattr" => Op::Unattr(text("key", "an id")?),
        "hold" => Op::Hold(text("case", "an id")?),
        "release" => Op::Release(text("case", "an id")?),
        "label" => Op::Label(text("label", "an id")?),
        "unlabel" => Op::Unlabel(text("label", "an id")?),
        "retention" => match (opt(m, "days", path)?, opt(m, "until", path)?) {
            (Some(d), None) => {
                let at = sub(path, "days");
                let d = uint(d, &at, MAX_RETENTION_DAYS as u64)?;
                Op::Retention(RetentionRule::Days(d as u32))
            }
            (None, Some(u)) => {
                let at = sub(path, "until");
                Op::Retention(RetentionRule::Until(
                    parse_date(&string(u, &at)?).map_err(|e| Error::metadata(at, e))?,
                ))
            }
            (Some(_), Some(_)) => {
                return Err(Error::metadata(
                    sub(path, "until"),
                    "a retention op holds either days or until, not both",
                ))
            }
            (None, None) => {
                return Err(Error::metadata(
                    sub(path, "days"),
                    "missing (a retention op holds either days or until)",
                ))
            }
        },
        _ => {
            let form = form_from_value(req(m, "form", path, "a form")?, &sub(path, "form"))?;
            let answers_at = sub(path, "answers");
            let answers =
                answers_from_value(req(m, "answers", path, "answers")?, &form, &answers_at)?;
            answers.validate_at(&form, &answers_at)?;
            let result_at = sub(path, "result");
            let result = score_from_value(req(m, "result", path, "a result")?, &result_at)?;
            Op::Questionnaire(Box::new(Questionnaire {
                form,
                answers,
                result,
            }))
        }
    })
}

// ---------------------------------------------------------------------------------
// Questionnaire forms
// ---------------------------------------------------------------------------------

/// A questionnaire's definition:
/// `{"id":ID,"version":N,"title":TEXT,"pass_percent":P,"questions":[QUESTION, ...]}`
/// (`title` optional; members in this order when written).
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// The form's id; the state keeps the latest questionnaire per form id.
    pub id: String,
    /// Its version, 1 to 2^53.
    pub version: u64,
    /// Its title, at most 4096 bytes.
    pub title: Option<String>,
    /// The pass mark in percent, 0 to 100.
    pub pass_percent: u8,
    /// 1 to [`MAX_QUESTIONS`] questions with distinct ids, in display order.
    pub questions: Vec<Question>,
}

/// One question:
/// `{"id":ID,"text":TEXT,"type":T,"min":N,"max":N,"choices":[..],"weight":W,
/// "critical":B,"required":B,"allow_na":B}`. `min`/`max` only for (and required for)
/// `scale`, `choices` only for (and required for) `choice`. When written, a member
/// equal to its default is omitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The question's id, unique in the form.
    pub id: String,
    /// The question as shown (at most 4096 bytes; required, may be empty).
    pub text: String,
    /// What kind of answer it takes (`type`).
    pub kind: QuestionKind,
    /// Its weight, 0 to [`MAX_WEIGHT`]. Default 1 for the scored types, 0 for `text`
    /// (which must have 0).
    pub weight: u32,
    /// Whether an answer worth nothing fails the whole form (default false; never on
    /// a `text` question).
    pub critical: bool,
    /// Whether it must be answered (default true). A `"na": true` answer counts.
    pub required: bool,
    /// Whether `"na": true` ("not applicable") is allowed (default false).
    pub allow_na: bool,
}

/// The kind of a question (its `type`) and the answers it takes.
#[derive(Debug, Clone, PartialEq)]
pub enum QuestionKind {
    /// `yes_no`: a boolean answer.
    YesNo,
    /// `scale`: an integer answer in `min..=max`, with `0 <= min < max <= 1000`.
    Scale {
        /// The lowest answer (worth nothing).
        min: u32,
        /// The highest answer (worth the full weight).
        max: u32,
    },
    /// `choice`: one of [`MIN_CHOICES`] to [`MAX_CHOICES`] choices with distinct values.
    Choice(Vec<Choice>),
    /// `text`: free text, never scored.
    Text,
}

/// One choice of a `choice` question: `{"value":ID,"points":P}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The answer's value (an id, unique in the question).
    pub value: String,
    /// What the choice is worth in percent of the weight, 0 to 100.
    pub points: u8,
}

impl QuestionKind {
    /// The JSON `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            QuestionKind::YesNo => "yes_no",
            QuestionKind::Scale { .. } => "scale",
            QuestionKind::Choice(_) => "choice",
            QuestionKind::Text => "text",
        }
    }

    /// The default weight: 0 for `text`, 1 otherwise.
    pub fn default_weight(&self) -> u32 {
        match self {
            QuestionKind::Text => 0,
            _ => 1,
        }
    }
}

impl Form {
    /// Parses a form definition (a document of its own; paths like
    /// `questions[2].weight`) and checks it.
    pub fn from_json(text: &[u8]) -> Result<Form> {
        form_from_value(&parse(text)?, "")
    }

    /// The canonical JSON text (compact, documented member order, defaults omitted).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).expect("a Value always serializes")
    }

    /// Checks every rule of a form definition.
    pub fn validate(&self) -> Result<()> {
        self.validate_at("")
    }

    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Checks `answers` against this form ([`Answers::validate`]) and scores them.
    ///
    /// # Scoring
    /// All arithmetic is on integers. For each question in form order that has an
    /// answer other than `"na": true` and is not `text`, the answer is worth the
    /// fraction `f = n / d` of the question's weight `w`:
    /// - `yes_no`: `true` is 1/1, `false` is 0/1;
    /// - `scale`: `(v - min) / (max - min)`;
    /// - `choice`: `points / 100` of the chosen value.
    ///
    /// Such a question with `w > 0` adds `1000 * w` to `possible_milli` and
    /// `floor((2000 * w * n + d) / (2 * d))` (that is `1000 * w * f` rounded to the
    /// nearest integer, halves up) to `earned_milli`. Unanswered and `"na"` questions
    /// add to neither. `percent_bp` (basis points, 0 to 10000) is
    /// `floor((20000 * earned_milli + possible_milli) / (2 * possible_milli))` (that
    /// is `10000 * earned_milli / possible_milli` rounded halves up), and 10000 when
    /// `possible_milli` is 0. A `critical` question (of any weight) fails when it is
    /// answered, not `"na"`, and `n = 0` (a "no", the scale's minimum, a 0-point
    /// choice); `critical_failed` lists the failed ids in form order. `pass` is true
    /// exactly when `critical_failed` is empty and
    /// `100 * earned_milli >= pass_percent * possible_milli`.
    pub fn score(&self, answers: &Answers) -> Result<Score> {
        answers.validate(self)?;
        Ok(self.compute(answers))
    }

    /// The scoring of [`Form::score`], on answers already checked.
    fn compute(&self, answers: &Answers) -> Score {
        let (mut earned, mut possible) = (0u64, 0u64);
        let mut critical_failed = Vec::new();
        for q in &self.questions {
            let Some(a) = answers.answers.get(&q.id) else {
                continue;
            };
            let (n, d) = match (&q.kind, &a.value) {
                (QuestionKind::YesNo, AnswerValue::YesNo(b)) => (*b as u64, 1),
                (QuestionKind::Scale { min, max }, AnswerValue::Scale(v)) => {
                    ((v - min) as u64, (max - min) as u64)
                }
                (QuestionKind::Choice(cs), AnswerValue::Choice(c)) => {
                    let points = cs.iter().find(|x| &x.value == c).map_or(0, |x| x.points);
                    (points as u64, 100)
                }
                _ => continue, // text, or "na"
            };
            if q.critical && n == 0 {
                critical_failed.push(q.id.clone());
            }
            if q.weight > 0 {
                let w = q.weight as u64;
                possible += 1000 * w;
                earned += (2000 * w * n + d) / (2 * d);
            }
        }
        let percent_bp = if possible == 0 {
            10_000
        } else {
            ((20_000 * earned + possible) / (2 * possible)) as u32
        };
        let pass = critical_failed.is_empty()
            && 100 * earned as u128 >= self.pass_percent as u128 * possible as u128;
        Score {
            earned_milli: earned,
            possible_milli: possible,
            percent_bp,
            pass,
            critical_failed,
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.as_str().into());
        m.insert("version".into(), self.version.into());
        if let Some(t) = &self.title {
            m.insert("title".into(), t.as_str().into());
        }
        m.insert("pass_percent".into(), self.pass_percent.into());
        m.insert(
            "questions".into(),
            Value::Array(self.questions.iter().map(Question::to_value).collect()),
        );
        Value::Object(m)
    }

    fn validate_at(&self, path: &str) -> Result<()> {
        check_id(&self.id, &sub(path, "id"))?;
        if self.version == 0 || self.version > super::MAX_EXACT_INT {
            return Err(Error::metadata(
                sub(path, "version"),
                "a form version is 1 to 2^53",
            ));
        }
        if let Some(t) = &self.title {
            check_text(t, &sub(path, "title"))?;
        }
        if self.pass_percent > 100 {
            return Err(Error::metadata(
                sub(path, "pass_percent"),
                format!("a percentage is 0 to 100, not {}", self.pass_percent),
            ));
        }
        let qs = sub(path, "questions");
        if self.questions.is_empty() || self.questions.len() > MAX_QUESTIONS {
            return Err(Error::metadata(
                &qs,
                format!(
                    "a form holds 1 to {MAX_QUESTIONS} questions, not {}",
                    self.questions.len()
                ),
            ));
        }
        for (i, q) in self.questions.iter().enumerate() {
            let at = elem(&qs, i);
            q.validate_at(&at)?;
            if self.questions[..i].iter().any(|p| p.id == q.id) {
                return Err(Error::metadata(
                    sub(&at, "id"),
                    format!("duplicate question id {:?}", q.id),
                ));
            }
        }
        Ok(())
    }
}

impl Question {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.as_str().into());
        m.insert("text".into(), self.text.as_str().into());
        m.insert("type".into(), self.kind.type_name().into());
        match &self.kind {
            QuestionKind::Scale { min, max } => {
                m.insert("min".into(), (*min).into());
                m.insert("max".into(), (*max).into());
            }
            QuestionKind::Choice(cs) => {
                let cs = cs
                    .iter()
                    .map(|c| json!({"value": c.value, "points": c.points}))
                    .collect();
                m.insert("choices".into(), Value::Array(cs));
            }
            _ => {}
        }
        if self.weight != self.kind.default_weight() {
            m.insert("weight".into(), self.weight.into());
        }
        if self.critical {
            m.insert("critical".into(), true.into());
        }
        if !self.required {
            m.insert("required".into(), false.into());
        }
        if self.allow_na {
            m.insert("allow_na".into(), true.into());
        }
        Value::Object(m)
    }

    fn validate_at(&self, path: &str) -> Result<()> {
        check_id(&self.id, &sub(path, "id"))?;
        check_text(&self.text, &sub(path, "text"))?;
        if self.weight > MAX_WEIGHT {
            return Err(Error::metadata(
                sub(path, "weight"),
                format!("a weight is 0 to {MAX_WEIGHT}, not {}", self.weight),
            ));
        }
        match &self.kind {
            QuestionKind::Text if self.weight != 0 => {
                return Err(Error::metadata(
                    sub(path, "weight"),
                    "a text question is not scored: its weight is 0 (or omitted)",
                ))
            }
            QuestionKind::Text if self.critical => {
                return Err(Error::metadata(
                    sub(path, "critical"),
                    "a text question cannot be critical",
                ))
            }
            QuestionKind::Scale { min, max } => {
                if max > &MAX_SCALE {
                    return Err(Error::metadata(
                        sub(path, "max"),
                        format!("scale bounds are 0 to {MAX_SCALE}, not {max}"),
                    ));
                }
                if min >= max {
                    return Err(Error::metadata(
                        sub(path, "max"),
                        format!("max ({max}) must be greater than min ({min})"),
                    ));
                }
            }
            QuestionKind::Choice(cs) => {
                let at = sub(path, "choices");
                if cs.len() < MIN_CHOICES || cs.len() > MAX_CHOICES {
                    return Err(Error::metadata(
                        at,
                        format!(
                            "a choice question offers {MIN_CHOICES} to {MAX_CHOICES} \
                             choices, not {}",
                            cs.len()
                        ),
                    ));
                }
                for (j, c) in cs.iter().enumerate() {
                    let cat = elem(&at, j);
                    check_id(&c.value, &sub(&cat, "value"))?;
                    if cs[..j].iter().any(|p| p.value == c.value) {
                        return Err(Error::metadata(
                            sub(&cat, "value"),
                            format!("duplicate choice value {:?}", c.value),
                        ));
                    }
                    if c.points > MAX_POINTS {
                        return Err(Error::metadata(
                            sub(&cat, "points"),
                            format!("points are 0 to {MAX_POINTS}, not {}", c.points),
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

const QUESTION_COMMON: [&str; 7] = [
    "id", "text", "type", "weight", "critical", "required", "allow_na",
];

fn form_from_value(v: &Value, path: &str) -> Result<Form> {
    let m = object(v, path)?;
    only(
        m,
        &["id", "version", "title", "pass_percent", "questions"],
        path,
        "a form",
    )?;
    let id = string(req(m, "id", path, "an id")?, &sub(path, "id"))?;
    let version_at = sub(path, "version");
    let version = exact_uint(req(m, "version", path, "an integer")?, &version_at)?;
    let title = opt(m, "title", path)?
        .map(|t| string(t, &sub(path, "title")))
        .transpose()?;
    let pass_percent = uint(
        req(m, "pass_percent", path, "an integer 0 to 100")?,
        &sub(path, "pass_percent"),
        100,
    )? as u8;
    let qs_at = sub(path, "questions");
    let list = array(req(m, "questions", path, "an array")?, &qs_at)?;
    let questions = list
        .iter()
        .enumerate()
        .map(|(i, q)| question_from_value(q, &elem(&qs_at, i)))
        .collect::<Result<Vec<_>>>()?;
    let f = Form {
        id,
        version,
        title,
        pass_percent,
        questions,
    };
    f.validate_at(path)?;
    Ok(f)
}

fn question_from_value(v: &Value, path: &str) -> Result<Question> {
    let m = object(v, path)?;
    let type_at = sub(path, "type");
    let ty = string(req(m, "type", path, "a question type")?, &type_at)?;
    let extra: &[&str] = match ty.as_str() {
        "yes_no" | "text" => &[],
        "scale" => &["min", "max"],
        "choice" => &["choices"],
        other => {
            return Err(Error::metadata(
                type_at,
                format!("unknown question type {other:?} (yes_no, scale, choice or text)"),
            ))
        }
    };
    let members: Vec<&str> = QUESTION_COMMON.iter().chain(extra).copied().collect();
    only(m, &members, path, &format!("a {ty} question"))?;
    let id = string(req(m, "id", path, "an id")?, &sub(path, "id"))?;
    let text = string(req(m, "text", path, "a string")?, &sub(path, "text"))?;
    let bound = |k: &str| -> Result<u32> {
        Ok(uint(
            req(m, k, path, "an integer")?,
            &sub(path, k),
            MAX_SCALE as u64,
        )? as u32)
    };
    let kind = match ty.as_str() {
        "yes_no" => QuestionKind::YesNo,
        "text" => QuestionKind::Text,
        "scale" => QuestionKind::Scale {
            min: bound("min")?,
            max: bound("max")?,
        },
        _ => {
            let at = sub(path, "choices");
            let list = array(req(m, "choices", path, "an array")?, &at)?;
            let cs = list
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let cat = elem(&at, j);
                    let cm = object(c, &cat)?;
                    only(cm, &["value", "points"], &cat, "a choice")?;
                    Ok(Choice {
                        value: string(req(cm, "value", &cat, "an id")?, &sub(&cat, "value"))?,
                        points: uint(
                            req(cm, "points", &cat, "an integer 0 to 100")?,
                            &sub(&cat, "points"),
                            MAX_POINTS as u64,
                        )? as u8,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            QuestionKind::Choice(cs)
        }
    };
    let flag = |k: &str, default: bool| -> Result<bool> {
        opt(m, k, path)?.map_or(Ok(default), |b| boolean(b, &sub(path, k)))
    };
    let weight = match opt(m, "weight", path)? {
        Some(w) => uint(w, &sub(path, "weight"), MAX_WEIGHT as u64)? as u32,
        None => kind.default_weight(),
    };
    Ok(Question {
        id,
        text,
        weight,
        critical: flag("critical", false)?,
        required: flag("required", true)?,
        allow_na: flag("allow_na", false)?,
        kind,
    })
}

// ---------------------------------------------------------------------------------
// Answers and results
// ---------------------------------------------------------------------------------

/// Answers to one form:
/// `{"form":ID,"version":N,"answers":{QUESTION_ID: ANSWER, ...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    /// The form's id (must equal the form's).
    pub form: String,
    /// The form's version (must equal the form's).
    pub version: u64,
    /// The answers by question id (written in this order: bytewise by id).
    pub answers: BTreeMap<String, Answer>,
}

/// One answer: `{"value":V,"comment":TEXT}` or `{"na":true,"comment":TEXT}`
/// (`comment` optional, at most 4096 bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The answer.
    pub value: AnswerValue,
    /// A comment.
    pub comment: Option<String>,
}

/// The value of an answer, typed by its question.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerValue {
    /// `yes_no`: a JSON boolean.
    YesNo(bool),
    /// `scale`: an integer in `min..=max`.
    Scale(u32),
    /// `choice`: one of the question's values (a string).
    Choice(String),
    /// `text`: a string of at most 4096 bytes.
    Text(String),
    /// `"na": true`: not applicable (only where the question allows it).
    Na,
}

impl Answers {
    /// Parses an answers document for `form` (a document of its own; paths like
    /// `answers.empathy.value`) and checks it against the form.
    pub fn from_json(text: &[u8], form: &Form) -> Result<Answers> {
        let a = answers_from_value(&parse(text)?, form, "")?;
        a.validate(form)?;
        Ok(a)
    }

    /// The canonical JSON text.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).expect("a Value always serializes")
    }

    /// Checks the answers against `form`: same form id and version; every answer for
    /// a question of the form, of the question's type and range, `na` only where
    /// allowed; every required question answered.
    pub fn validate(&self, form: &Form) -> Result<()> {
        self.validate_at(form, "")
    }

    fn to_value(&self) -> Value {
        let answers: Map<String, Value> = self
            .answers
            .iter()
            .map(|(id, a)| {
                let mut m = Map::new();
                match &a.value {
                    AnswerValue::YesNo(b) => m.insert("value".into(), (*b).into()),
                    AnswerValue::Scale(v) => m.insert("value".into(), (*v).into()),
                    AnswerValue::Choice(s) | AnswerValue::Text(s) => {
                        m.insert("value".into(), s.as_str().into())
                    }
                    AnswerValue::Na => m.insert("na".into(), true.into()),
                };
                if let Some(c) = &a.comment {
                    m.insert("comment".into(), c.as_str().into());
                }
                (id.clone(), Value::Object(m))
            })
            .collect();
        json!({"form": self.form, "version": self.version, "answers": answers})
    }

    fn validate_at(&self, form: &Form, path: &str) -> Result<()> {
        if self.form != form.id {
            return Err(Error::metadata(
                sub(path, "form"),
                format!(
                    "the answers are for form {:?}, the form is {:?}",
                    self.form, form.id
                ),
            ));
        }
        if self.version != form.version {
            return Err(Error::metadata(
                sub(path, "version"),
                format!(
                    "the answers are for version {} of {:?}, the form is version {}",
                    self.version, form.id, form.version
                ),
            ));
        }
        let base = sub(path, "answers");
        for (id, a) in &self.answers {
            let at = sub(&base, id);
            let q = form
                .question(id)
                .ok_or_else(|| unknown_question(&at, id, form))?;
            let value_at = sub(&at, "value");
            let wrong = || {
                Error::metadata(
                    &value_at,
                    format!(
                        "expected {} for a {} question",
                        expected(&q.kind),
                        q.kind.type_name()
                    ),
                )
            };
            match (&q.kind, &a.value) {
                (_, AnswerValue::Na) if !q.allow_na => {
                    return Err(Error::metadata(
                        sub(&at, "na"),
                        format!("question {id:?} does not allow \"na\""),
                    ))
                }
                (_, AnswerValue::Na) | (QuestionKind::YesNo, AnswerValue::YesNo(_)) => {}
                (QuestionKind::Scale { min, max }, AnswerValue::Scale(v)) => {
                    if v < min || v > max {
                        return Err(Error::metadata(
                            value_at,
                            format!("{v} is outside the scale {min} to {max}"),
                        ));
                    }
                }
                (QuestionKind::Choice(cs), AnswerValue::Choice(c)) => {
                    if !cs.iter().any(|x| &x.value == c) {
                        return Err(bad_choice(&value_at, c, cs));
                    }
                }
                (QuestionKind::Text, AnswerValue::Text(t)) => check_text(t, &value_at)?,
                _ => return Err(wrong()),
            }
            if let Some(c) = &a.comment {
                check_text(c, &sub(&at, "comment"))?;
            }
        }
        if let Some(q) = form
            .questions
            .iter()
            .find(|q| q.required && !self.answers.contains_key(&q.id))
        {
            return Err(Error::metadata(
                sub(&base, &q.id),
                format!(
                    "required question {:?} has no answer{}",
                    q.id,
                    if q.allow_na {
                        " (answer it, or give \"na\": true)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(())
    }
}

fn expected(kind: &QuestionKind) -> &'static str {
    match kind {
        QuestionKind::YesNo => "true or false",
        QuestionKind::Scale { .. } => "an integer",
        QuestionKind::Choice(_) => "one of the choice values (a string)",
        QuestionKind::Text => "a string",
    }
}

fn unknown_question(at: &str, id: &str, form: &Form) -> Error {
    Error::metadata(
        at,
        format!(
            "form {:?} version {} has no question {id:?}",
            form.id, form.version
        ),
    )
}

fn bad_choice(at: &str, c: &str, cs: &[Choice]) -> Error {
    let values: Vec<String> = cs.iter().map(|x| format!("{:?}", x.value)).collect();
    Error::metadata(
        at,
        format!("{c:?} is not one of the choices ({})", values.join(", ")),
    )
}

fn answers_from_value(v: &Value, form: &Form, path: &str) -> Result<Answers> {
    let m = object(v, path)?;
    only(
        m,
        &["form", "version", "answers"],
        path,
        "an answers document",
    )?;
    let id = string(req(m, "form", path, "the form's id")?, &sub(path, "form"))?;
    let version = exact_uint(
        req(m, "version", path, "the form's version")?,
        &sub(path, "version"),
    )?;
    let base = sub(path, "answers");
    let list = object(req(m, "answers", path, "an object")?, &base)?;
    let mut answers = BTreeMap::new();
    for (qid, a) in list {
        let at = sub(&base, qid);
        let q = form
            .question(qid)
            .ok_or_else(|| unknown_question(&at, qid, form))?;
        answers.insert(qid.clone(), answer_from_value(a, q, &at)?);
    }
    Ok(Answers {
        form: id,
        version,
        answers,
    })
}

fn answer_from_value(v: &Value, q: &Question, path: &str) -> Result<Answer> {
    let m = object(v, path)?;
    only(m, &["value", "na", "comment"], path, "an answer")?;
    let na_at = sub(path, "na");
    let na = opt(m, "na", path)?
        .map(|b| boolean(b, &na_at))
        .transpose()?;
    let value = match (opt(m, "value", path)?, na) {
        (_, Some(false)) => {
            return Err(Error::metadata(
                na_at,
                "na is only ever true: omit it for an answer with a value",
            ))
        }
        (Some(_), Some(true)) => {
            return Err(Error::metadata(
                na_at,
                "an answer holds a value or \"na\": true, not both",
            ))
        }
        (None, Some(true)) => AnswerValue::Na,
        (None, None) => {
            return Err(Error::metadata(
                path,
                "an answer holds a value or \"na\": true (omit the question to leave it \
                 unanswered)",
            ))
        }
        (Some(x), None) => {
            let at = sub(path, "value");
            let wrong = || {
                Error::metadata(
                    &at,
                    format!(
                        "expected {} for a {} question",
                        expected(&q.kind),
                        q.kind.type_name()
                    ),
                )
            };
            match &q.kind {
                QuestionKind::YesNo => AnswerValue::YesNo(x.as_bool().ok_or_else(wrong)?),
                QuestionKind::Scale { min, max } => {
                    if !x.is_number() {
                        return Err(wrong());
                    }
                    let n = exact_uint(x, &at)?;
                    if n < *min as u64 || n > *max as u64 {
                        return Err(Error::metadata(
                            at,
                            format!("{n} is outside the scale {min} to {max}"),
                        ));
                    }
                    AnswerValue::Scale(n as u32)
                }
                QuestionKind::Choice(_) => {
                    AnswerValue::Choice(x.as_str().ok_or_else(wrong)?.to_owned())
                }
                QuestionKind::Text => AnswerValue::Text(x.as_str().ok_or_else(wrong)?.to_owned()),
            }
        }
    };
    let comment = opt(m, "comment", path)?
        .map(|c| string(c, &sub(path, "comment")))
        .transpose()?;
    Ok(Answer { value, comment })
}

/// The result of a filled questionnaire (see [`Form::score`] for the arithmetic):
/// `{"earned_milli":N,"possible_milli":N,"percent_bp":N,"pass":B,"critical_failed":[ID, ...]}`,
/// all members always present, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// Points earned, in thousandths of a point.
    pub earned_milli: u64,
    /// Points possible (1000 × the sum of the weights counted), in thousandths.
    pub possible_milli: u64,
    /// The score in basis points (hundredths of a percent), 0 to 10000.
    pub percent_bp: u32,
    /// Passed: no critical question failed and the pass mark is reached.
    pub pass: bool,
    /// Ids of the critical questions that failed, in form order.
    pub critical_failed: Vec<String>,
}

impl Score {
    /// The JSON object (also what [`State::to_json`] shows).
    pub fn to_value(&self) -> Value {
        json!({
            "earned_milli": self.earned_milli,
            "possible_milli": self.possible_milli,
            "percent_bp": self.percent_bp,
            "pass": self.pass,
            "critical_failed": self.critical_failed,
        })
    }
}

fn score_from_value(v: &Value, path: &str) -> Result<Score> {
    let m = object(v, path)?;
    only(
        m,
        &[
            "earned_milli",
            "possible_milli",
            "percent_bp",
            "pass",
            "critical_failed",
        ],
        path,
        "a questionnaire result",
    )?;
    let int = |k: &str| exact_uint(req(m, k, path, "an integer")?, &sub(path, k));
    let earned_milli = int("earned_milli")?;
    let possible_milli = int("possible_milli")?;
    let percent_bp = uint(
        req(m, "percent_bp", path, "an integer")?,
        &sub(path, "percent_bp"),
        10_000,
    )? as u32;
    let pass = boolean(req(m, "pass", path, "a boolean")?, &sub(path, "pass"))?;
    let cf_at = sub(path, "critical_failed");
    let critical_failed = array(req(m, "critical_failed", path, "an array")?, &cf_at)?
        .iter()
        .enumerate()
        .map(|(i, s)| string(s, &elem(&cf_at, i)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Score {
        earned_milli,
        possible_milli,
        percent_bp,
        pass,
        critical_failed,
    })
}

// ---------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------

/// Who set something, when, and in which segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The segment number given to [`State::apply`].
    pub segment: u32,
    /// The record's `by`.
    pub by: String,
    /// The record's `at`.
    pub at: String,
}

impl Stamp {
    fn put(&self, m: &mut Map<String, Value>) {
        m.insert("segment".into(), self.segment.into());
        m.insert("by".into(), self.by.as_str().into());
        m.insert("at".into(), self.at.as_str().into());
    }
}

/// The latest questionnaire of one form id.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionnaireState {
    /// Where it was set.
    pub stamp: Stamp,
    /// The form (id, version, definition).
    pub form: Form,
    /// The answers.
    pub answers: Answers,
    /// The result.
    pub result: Score,
}

/// The retention rule in force, from the latest `retention` op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionState {
    /// The rule.
    pub rule: RetentionRule,
    /// Where it was set.
    pub stamp: Stamp,
}

/// How long a recording is to be kept, all things considered
/// ([`State::effective_retention`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retention {
    /// Under legal hold for these cases (sorted): keep, whatever else says.
    Held {
        /// The active cases.
        cases: Vec<String>,
    },
    /// Keep through the end of this UTC day; it may be deleted from the next.
    Until(Date),
    /// Keep this many days from a start the file does not state (no `started_at`).
    Days(u32),
    /// Keep indefinitely.
    Indefinite,
    /// Nothing says.
    Unspecified,
}

/// The current annotation state: the fold of a file's annotation records, in segment
/// order. "Latest" always means last in that order (segments in file order, ops in
/// record order), never by `at`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    /// Tags present.
    pub tags: BTreeSet<String>,
    /// Attributes by key (the last value set).
    pub attributes: BTreeMap<String, String>,
    /// The latest questionnaire per form id (whatever its version).
    pub questionnaires: BTreeMap<String, QuestionnaireState>,
    /// The latest retention op, if any.
    pub retention: Option<RetentionState>,
    /// Active legal holds by case, with where each began.
    pub holds: BTreeMap<String, Stamp>,
    /// Access labels present.
    pub labels: BTreeSet<String>,
    /// The last segment applied.
    last_segment: Option<u32>,
}

impl State {
    /// The state of a file without annotation segments.
    pub fn new() -> State {
        State::default()
    }

    /// Applies the record of segment `segment` (a reader calls this for every
    /// authentic segment, in file order). The ops are applied in order:
    /// `tag`/`label` add (no-op if present), `untag`/`unlabel`/`unattr` remove (no-op
    /// if absent), `attr` sets, `questionnaire` replaces the entry of its form id,
    /// `retention` replaces the rule, `hold` activates a case (a case already active
    /// keeps its first stamp), `release` deactivates it (no-op if inactive).
    ///
    /// Odd history never fails. Refused: an invalid record ([`Record::validate`]),
    /// and a segment number not greater than the previous one (misuse).
    pub fn apply(&mut self, segment: u32, record: &Record) -> Result<()> {
        if let Some(last) = self.last_segment {
            if segment <= last {
                return Err(Error::misuse(format!(
                    "annotation segment {segment} applied after segment {last}"
                )));
            }
        }
        record.validate()?;
        let stamp = Stamp {
            segment,
            by: record.by.clone(),
            at: record.at.clone(),
        };
        for op in &record.ops {
            self.apply_op(op, &stamp);
        }
        self.last_segment = Some(segment);
        Ok(())
    }

    /// What a writer calls before appending `record`: checks it
    /// ([`Record::validate`]) and refuses, with the op's path, a removal of something
    /// absent at that point (ops applied in order): `untag` of a tag not present
    /// (`ops[i].tag`), `unlabel` (`ops[i].label`), `unattr` (`ops[i].key`), `release`
    /// of a case not on hold (`ops[i].case`).
    pub fn check_new(&self, record: &Record) -> Result<()> {
        record.validate()?;
        let mut s = self.clone();
        let stamp = Stamp {
            segment: 0,
            by: record.by.clone(),
            at: record.at.clone(),
        };
        for (i, op) in record.ops.iter().enumerate() {
            let at = elem("ops", i);
            let absent = match op {
                Op::Untag(t) if !s.tags.contains(t) => Some(("tag", "no tag", t)),
                Op::Unlabel(l) if !s.labels.contains(l) => Some(("label", "no label", l)),
                Op::Unattr(k) if !s.attributes.contains_key(k) => Some(("key", "no attribute", k)),
                Op::Release(c) if !s.holds.contains_key(c) => {
                    Some(("case", "no active hold for case", c))
                }
                _ => None,
            };
            if let Some((member, what, name)) = absent {
                return Err(Error::metadata(
                    sub(&at, member),
                    format!("there is {what} {name:?} to remove"),
                ));
            }
            s.apply_op(op, &stamp);
        }
        Ok(())
    }

    fn apply_op(&mut self, op: &Op, stamp: &Stamp) {
        match op {
            Op::Tag(t) => {
                self.tags.insert(t.clone());
            }
            Op::Untag(t) => {
                self.tags.remove(t);
            }
            Op::Attr { key, value } => {
                self.attributes.insert(key.clone(), value.clone());
            }
            Op::Unattr(k) => {
                self.attributes.remove(k);
            }
            Op::Questionnaire(q) => {
                self.questionnaires.insert(
                    q.form.id.clone(),
                    QuestionnaireState {
                        stamp: stamp.clone(),
                        form: q.form.clone(),
                        answers: q.answers.clone(),
                        result: q.result.clone(),
                    },
                );
            }
            Op::Retention(rule) => {
                self.retention = Some(RetentionState {
                    rule: *rule,
                    stamp: stamp.clone(),
                });
            }
            Op::Hold(c) => {
                self.holds.entry(c.clone()).or_insert_with(|| stamp.clone());
            }
            Op::Release(c) => {
                self.holds.remove(c);
            }
            Op::Label(l) => {
                self.labels.insert(l.clone());
            }
            Op::Unlabel(l) => {
                self.labels.remove(l);
            }
        }
    }

    /// The retention in force. In order:
    /// 1. any active hold: [`Retention::Held`] with the active cases (keep);
    /// 2. else the latest `retention` op: `until` gives [`Retention::Until`] that date;
    ///    `days` N gives `Until` the UTC date of `started_at + N × 86400 s` (kept through
    ///    that whole day), or [`Retention::Days`] N without `started_at`;
    /// 3. else the header's retention days: 0 is [`Retention::Unspecified`],
    ///    `0xFFFFFFFF` is [`Retention::Indefinite`], any other N as a `days` op.
    ///
    /// A date past 9999-12-31 is `Indefinite`.
    pub fn effective_retention(
        &self,
        started_at: Option<OffsetDateTime>,
        header_days: u32,
    ) -> Retention {
        if !self.holds.is_empty() {
            return Retention::Held {
                cases: self.holds.keys().cloned().collect(),
            };
        }
        let days = |n: u32| match started_at {
            None => Retention::Days(n),
            Some(t) => t
                .to_offset(UtcOffset::UTC)
                .checked_add(Duration::days(n as i64))
                .filter(|t| t.year() <= 9999)
                .map_or(Retention::Indefinite, |t| Retention::Until(t.date())),
        };
        match &self.retention {
            Some(RetentionState {
                rule: RetentionRule::Until(d),
                ..
            }) => Retention::Until(*d),
            Some(RetentionState {
                rule: RetentionRule::Days(n),
                ..
            }) => days(*n),
            None => match header_days {
                0 => Retention::Unspecified,
                u32::MAX => Retention::Indefinite,
                n => days(n),
            },
        }
    }

    /// The state as JSON, for `sasf info --json` and extraction:
    /// `{"tags":[ID..],"attributes":{KEY:VALUE..},"questionnaires":{FORM_ID:
    /// {"segment","by","at","form":FORM,"answers":ANSWERS,"result":RESULT}..},
    /// "retention":{"days"|"until","segment","by","at"},"holds":{CASE:{"segment","by",
    /// "at"}..},"labels":[ID..]}`. Sets and maps are sorted bytewise; `retention` is
    /// omitted when no op set one.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("tags".into(), json!(self.tags));
        m.insert("attributes".into(), json!(self.attributes));
        let qs: Map<String, Value> = self
            .questionnaires
            .iter()
            .map(|(id, q)| {
                let mut e = Map::new();
                q.stamp.put(&mut e);
                e.insert("form".into(), q.form.to_value());
                e.insert("answers".into(), q.answers.to_value());
                e.insert("result".into(), q.result.to_value());
                (id.clone(), Value::Object(e))
            })
            .collect();
        m.insert("questionnaires".into(), Value::Object(qs));
        if let Some(r) = &self.retention {
            let mut e = Map::new();
            put_retention(
                &mut |k: &str, v: Value| {
                    e.insert(k.into(), v);
                },
                &r.rule,
            );
            r.stamp.put(&mut e);
            m.insert("retention".into(), Value::Object(e));
        }
        let holds: Map<String, Value> = self
            .holds
            .iter()
            .map(|(c, s)| {
                let mut e = Map::new();
                s.put(&mut e);
                (c.clone(), Value::Object(e))
            })
            .collect();
        m.insert("holds".into(), Value::Object(holds));
        m.insert("labels".into(), json!(self.labels));
        Value::Object(m)
    }
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Parses a document under the strict profile and the default limits; paths as in
/// `parse_document` (`$` for the whole text).
fn parse(text: &[u8]) -> Result<Value> {
    check_json_limits(text, DEFAULT_MAX_JSON_LEN, DEFAULT_MAX_JSON_DEPTH).map_err(
        |(what, found, limit)| {
            Error::metadata("$", format!("{what} is {found}, over the limit of {limit}"))
        },
    )?;
    parse_strict(text).map_err(|r| {
        let path = match r.path.strip_prefix('.') {
            Some(p) => p.to_string(),
            None => format!("${}", r.path),
        };
        Error::metadata(path, r.reason)
    })
}

/// A path for an error: `$` for the document itself.
fn here(path: &str) -> &str {
    if path.is_empty() {
        "$"
    } else {
        path
    }
}

fn elem(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::metadata(here(path), "expected an object"))
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| Error::metadata(path, "expected an array"))
}

fn string(v: &Value, path: &str) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::metadata(path, "expected a string"))
}

fn boolean(v: &Value, path: &str) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| Error::metadata(path, "expected true or false"))
}

/// A SASF integer (0 to 2^53) of at most `max`.
fn uint(v: &Value, path: &str, max: u64) -> Result<u64> {
    let n = exact_uint(v, path)?;
    if n > max {
        return Err(Error::metadata(
            path,
            format!("{n} is over the maximum of {max}"),
        ));
    }
    Ok(n)
}

/// Refuses the first member (in document order) not among `members`.
fn only(m: &Map<String, Value>, members: &[&str], path: &str, what: &str) -> Result<()> {
    match m.keys().find(|k| !members.contains(&k.as_str())) {
        Some(k) => Err(Error::metadata(
            sub(path, k),
            format!(
                "{k:?} is not a member of {what} (its members are {})",
                members.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// An optional defined member: `null` is refused.
fn opt<'a>(m: &'a Map<String, Value>, name: &str, path: &str) -> Result<Option<&'a Value>> {
    match m.get(name) {
        Some(Value::Null) => Err(null_member(&sub(path, name))),
        v => Ok(v),
    }
}

/// A required defined member.
fn req<'a>(m: &'a Map<String, Value>, name: &str, path: &str, what: &str) -> Result<&'a Value> {
    opt(m, name, path)?
        .ok_or_else(|| Error::metadata(sub(path, name), format!("missing ({what} is required)")))
}

/// Parses `YYYY-MM-DD` exactly (a real calendar date, four-digit year).
fn parse_date(s: &str) -> std::result::Result<Date, String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + (c - b'0') as u32)
        })
    };
    let shape = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    let parts = shape
        .then(|| Some((digits(0..4)?, digits(5..7)?, digits(8..10)?)))
        .flatten();
    let Some((y, mo, d)) = parts else {
        return Err(format!("{s:?} is not a date YYYY-MM-DD"));
    };
    Month::try_from(mo as u8)
        .ok()
        .and_then(|m| Date::from_calendar_date(y as i32, m, d as u8).ok())
        .ok_or_else(|| format!("{s:?}: no such calendar date"))
}

fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

#[cfg(test)]
mod tests;
