//! The events of SPEC §2: what the HR systems send, decoded strictly, and the canonical JSON
//! the ledger stores. `docs/EVENTS.md` documents the JSON form of each with an example.
//!
//! Every event's JSON form is an object with `"type"` (snake_case, past tense) and
//! `"version"` (1), then its fields in a fixed order. Decoding rejects unknown fields,
//! unknown enum values, impossible dates and empty or over-long strings, naming the field.
//! The canonical form (what is stored and fingerprinted) is the decoded event written back
//! with that field order, optional fields left out when absent, and no whitespace.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{DecodeError, Fields};
use super::id::{Id, MAX_NAME_LEN, MAX_TEXT_LEN};
use super::personal::{PERSONAL_FIELDS, Personal};
use super::policy::{PolicyParameters, Preset};
use super::vocab::{
    DispatchKind, Grade, GroupKind, KeyLevel, MembershipChange, PromotionKind, ReturnReason,
    SchoolYear, Stage, Standing, Title, Vocabulary,
};

/// The event version HR systems send, and the one stored for events with no personal field.
pub const VERSION: u64 = 1;
/// The version the ledger stores for an event whose personal fields it sealed
/// (docs/FORMAT.md §1.12); never accepted from outside.
pub const SEALED_VERSION: u64 = 2;
/// Most member schools a `group_formed` event may list.
pub const MAX_GROUP_SCHOOLS: usize = 500;
/// The field the ledger adds to stored payloads of entries about a teacher.
pub const TEACHER_PREV: &str = "teacher_prev";

/// 学校登记: a school enters the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolRegistered {
    /// The school's id.
    pub school: Id,
    /// Its name.
    pub name: String,
    /// Its stage.
    pub stage: Stage,
    /// Its standing from `date`.
    pub standing: Standing,
    /// Whether it is a rural school (乡村学校).
    pub rural: bool,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A school's standing changes (e.g. a weak school is no longer weak).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolStandingChanged {
    /// The school.
    pub school: Id,
    /// The standing from `date`.
    pub standing: Standing,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A district (学区) or education group (集团) is formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFormed {
    /// The group's id.
    pub group: Id,
    /// District or education group.
    pub kind: GroupKind,
    /// Its name.
    pub name: String,
    /// The lead school (牵头校); must be one of `schools`.
    pub lead_school: Id,
    /// The member schools from `date`.
    pub schools: Vec<Id>,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A school joins or leaves a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembershipChanged {
    /// The group.
    pub group: Id,
    /// The school.
    pub school: Id,
    /// Joined or left.
    pub change: MembershipChange,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A teacher enters the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherRegistered {
    /// The teacher's id, as issued by the HR system.
    pub teacher: Id,
    /// The teacher's name (personal).
    pub name: Personal,
    /// Home school (the school holding the post, 编制).
    pub school: Id,
    /// Subject taught (an id such as `mathematics`).
    pub subject: Id,
    /// Professional title.
    pub title: Title,
    /// When the title was obtained.
    #[serde(skip_serializing_if = "super::binary::absent")]
    #[serde(with = "super::binary::opt_date")]
    pub title_date: Option<NaiveDate>,
    /// Key-teacher level.
    pub key_level: KeyLevel,
    /// Date employed at the home school (tenure counts from it).
    #[serde(with = "super::binary::date")]
    pub employed_date: NaiveDate,
    /// Known retirement date, if any.
    #[serde(skip_serializing_if = "super::binary::absent")]
    #[serde(with = "super::binary::opt_date")]
    pub retirement_date: Option<NaiveDate>,
    /// Effective date: the facts above hold from it.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A teacher's profile changes: at least one of the optional fields is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherProfileUpdated {
    /// The teacher.
    pub teacher: Id,
    /// New name (personal).
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub name: Option<Personal>,
    /// New subject.
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub subject: Option<Id>,
    /// New title (outside a promotion, e.g. a correction of the registry).
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub title: Option<Title>,
    /// When the new title was obtained.
    #[serde(skip_serializing_if = "super::binary::absent")]
    #[serde(with = "super::binary::opt_date")]
    pub title_date: Option<NaiveDate>,
    /// New key-teacher level.
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub key_level: Option<KeyLevel>,
    /// New retirement date.
    #[serde(skip_serializing_if = "super::binary::absent")]
    #[serde(with = "super::binary::opt_date")]
    pub retirement_date: Option<NaiveDate>,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A permanent change of home school (调动), not a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherTransferred {
    /// The teacher.
    pub teacher: Id,
    /// The new home school; tenure there counts from `date`.
    pub school: Id,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A policy takes effect: a preset with overrides, or (without a preset) a full set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAdopted {
    /// The preset the parameters override.
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub preset: Option<Preset>,
    /// Overrides, or every parameter when there is no preset.
    pub parameters: PolicyParameters,
    /// The date it takes effect.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// 交流轮岗 / 支教 / 挂职: a teacher is posted to another school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherDispatched {
    /// The dispatch's id.
    pub dispatch: Id,
    /// The teacher.
    pub teacher: Id,
    /// The sending school: must be the teacher's home school on `start_date`.
    pub from_school: Id,
    /// The receiving school.
    pub to_school: Id,
    /// First day at the receiving school.
    #[serde(with = "super::binary::date")]
    pub start_date: NaiveDate,
    /// Rotation, support or training.
    pub kind: DispatchKind,
    /// 组团流入: the team this dispatch belongs to.
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub team: Option<Id>,
}

/// A dispatched teacher returns (ends the dispatch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherReturned {
    /// The dispatch.
    pub dispatch: Id,
    /// The first day back; not before the start date.
    #[serde(with = "super::binary::date")]
    pub return_date: NaiveDate,
    /// Why.
    pub reason: ReturnReason,
    /// An explanation (personal: it may speak of health or family); required when `reason`
    /// is `other`.
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub reason_text: Option<Personal>,
}

/// The receiving school evaluates a dispatched teacher for a school year (流入校考核).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherEvaluated {
    /// The dispatch.
    pub dispatch: Id,
    /// The evaluating school: must be the receiving school.
    pub school: Id,
    /// The school year evaluated (2024 means 2024-09-01..2025-08-31).
    pub school_year: SchoolYear,
    /// The grade.
    pub grade: Grade,
    /// Effective date of the evaluation.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// A teacher is promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherPromoted {
    /// The teacher.
    pub teacher: Id,
    /// Title, rank or leadership.
    pub kind: PromotionKind,
    /// What to: a title spelling for `title`, free text otherwise.
    pub to: String,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
    /// Whether the promotion claims rotation credit.
    pub rotation_credit: bool,
}

impl TeacherPromoted {
    /// The title promoted to, for a `title` promotion.
    pub fn title(&self) -> Option<Title> {
        (self.kind == PromotionKind::Title)
            .then(|| Title::parse(&self.to))
            .flatten()
    }
}

/// A mistaken entry is voided (作废): projections ignore it from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryVoided {
    /// The sequence number of the entry voided.
    pub seq: u64,
    /// Why.
    pub reason: String,
}

/// 个人信息删除: a teacher's personal data is erased (PIPL Art. 47): the ledger destroys the
/// teacher's data key once this entry is durable. Admin only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    /// The teacher.
    pub teacher: Id,
    /// The legal basis or request it answers (a reference, not personal data).
    pub basis: String,
    /// Effective date.
    #[serde(with = "super::binary::date")]
    pub date: NaiveDate,
}

/// One event. (Its serde derives are the state snapshot's binary form; the JSON form is
/// [`Event::to_json`], the payload type's fields after `type` and `version`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Event {
    SchoolRegistered(SchoolRegistered),
    SchoolStandingChanged(SchoolStandingChanged),
    GroupFormed(GroupFormed),
    GroupMembershipChanged(GroupMembershipChanged),
    TeacherRegistered(TeacherRegistered),
    TeacherProfileUpdated(TeacherProfileUpdated),
    TeacherTransferred(TeacherTransferred),
    PolicyAdopted(PolicyAdopted),
    TeacherDispatched(TeacherDispatched),
    TeacherReturned(TeacherReturned),
    TeacherEvaluated(TeacherEvaluated),
    TeacherPromoted(TeacherPromoted),
    EntryVoided(EntryVoided),
    PersonalDataErased(PersonalDataErased),
}

/// Every event type name, in documentation order.
pub const EVENT_TYPES: &[&str] = &[
    "school_registered",
    "school_standing_changed",
    "group_formed",
    "group_membership_changed",
    "teacher_registered",
    "teacher_profile_updated",
    "teacher_transferred",
    "policy_adopted",
    "teacher_dispatched",
    "teacher_returned",
    "teacher_evaluated",
    "teacher_promoted",
    "entry_voided",
    "personal_data_erased",
];

/// A link to an earlier entry: its sequence number and entry hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLink {
    /// Sequence number.
    pub seq: u64,
    /// Entry hash.
    pub hash: [u8; 32],
}

impl Event {
    /// The `type` of the JSON form.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::SchoolRegistered(_) => "school_registered",
            Event::SchoolStandingChanged(_) => "school_standing_changed",
            Event::GroupFormed(_) => "group_formed",
            Event::GroupMembershipChanged(_) => "group_membership_changed",
            Event::TeacherRegistered(_) => "teacher_registered",
            Event::TeacherProfileUpdated(_) => "teacher_profile_updated",
            Event::TeacherTransferred(_) => "teacher_transferred",
            Event::PolicyAdopted(_) => "policy_adopted",
            Event::TeacherDispatched(_) => "teacher_dispatched",
            Event::TeacherReturned(_) => "teacher_returned",
            Event::TeacherEvaluated(_) => "teacher_evaluated",
            Event::TeacherPromoted(_) => "teacher_promoted",
            Event::EntryVoided(_) => "entry_voided",
            Event::PersonalDataErased(_) => "personal_data_erased",
        }
    }

    /// The effective date, for events that have one (all but voids).
    pub fn date(&self) -> Option<NaiveDate> {
        Some(match self {
            Event::SchoolRegistered(e) => e.date,
            Event::SchoolStandingChanged(e) => e.date,
            Event::GroupFormed(e) => e.date,
            Event::GroupMembershipChanged(e) => e.date,
            Event::TeacherRegistered(e) => e.date,
            Event::TeacherProfileUpdated(e) => e.date,
            Event::TeacherTransferred(e) => e.date,
            Event::PolicyAdopted(e) => e.date,
            Event::TeacherDispatched(e) => e.start_date,
            Event::TeacherReturned(e) => e.return_date,
            Event::TeacherEvaluated(e) => e.date,
            Event::TeacherPromoted(e) => e.date,
            Event::PersonalDataErased(e) => e.date,
            Event::EntryVoided(_) => return None,
        })
    }

    /// Decodes the JSON form an HR system sends. A member repeated in any object is refused
    /// (see `json`), so the stored canonical form can never differ from what another parser
    /// reads in the request.
    pub fn decode(text: &str) -> Result<Event, DecodeError> {
        Event::decode_value(super::json::parse_event(text)?)
    }

    /// Decodes an already parsed JSON form, as an HR system sends it (version 1).
    pub fn decode_value(v: Value) -> Result<Event, DecodeError> {
        Event::decode_versioned(v, false)
    }

    /// Decodes a JSON form; `stored`: also the sealed version the ledger itself writes.
    fn decode_versioned(v: Value, stored: bool) -> Result<Event, DecodeError> {
        let mut f = Fields::new(v, "")?;
        let ty = match f.take("type") {
            Some(Value::String(s)) => s,
            Some(_) => return Err(DecodeError::new("type", "must be a string")),
            None => return Err(DecodeError::new("type", "is missing")),
        };
        if !EVENT_TYPES.contains(&ty.as_str()) {
            return Err(DecodeError::new(
                "type",
                format!(
                    "unknown event type {ty:?}; expected one of {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        let version = f.uint("version", 0, u64::MAX)?;
        let has_personal = PERSONAL_FIELDS.iter().any(|(t, _)| *t == ty);
        if version == SEALED_VERSION && has_personal && !stored {
            return Err(DecodeError::new(
                "version",
                format!(
                    "version {SEALED_VERSION} of {ty} holds sealed fields, which only the ledger writes: send version {VERSION} with the fields in plain text"
                ),
            ));
        }
        if version != VERSION && !(version == SEALED_VERSION && has_personal) {
            return Err(DecodeError::new(
                "version",
                format!("version {version} of {ty} is not supported (only {VERSION})"),
            ));
        }
        f.sealed_personal(version == SEALED_VERSION);
        let e = decode_fields(&ty, &mut f)?;
        f.finish()?;
        Ok(e)
    }

    /// The canonical JSON text: `type`, `version`, then the fields in their fixed order.
    pub fn to_json(&self) -> String {
        let body = match self {
            Event::SchoolRegistered(e) => serde_json::to_string(e),
            Event::SchoolStandingChanged(e) => serde_json::to_string(e),
            Event::GroupFormed(e) => serde_json::to_string(e),
            Event::GroupMembershipChanged(e) => serde_json::to_string(e),
            Event::TeacherRegistered(e) => serde_json::to_string(e),
            Event::TeacherProfileUpdated(e) => serde_json::to_string(e),
            Event::TeacherTransferred(e) => serde_json::to_string(e),
            Event::PolicyAdopted(e) => serde_json::to_string(e),
            Event::TeacherDispatched(e) => serde_json::to_string(e),
            Event::TeacherReturned(e) => serde_json::to_string(e),
            Event::TeacherEvaluated(e) => serde_json::to_string(e),
            Event::TeacherPromoted(e) => serde_json::to_string(e),
            Event::EntryVoided(e) => serde_json::to_string(e),
            Event::PersonalDataErased(e) => serde_json::to_string(e),
        }
        // Serialising these structs (strings, numbers, dates) into a String cannot fail.
        .unwrap_or_default();
        // Every event struct has at least one field: `body` is `{"...":...}`.
        let fields = body.strip_prefix('{').unwrap_or("}");
        format!(
            "{{\"type\":\"{}\",\"version\":{},{fields}",
            self.type_name(),
            self.version()
        )
    }

    /// The version of the JSON form: [`SEALED_VERSION`] when a personal field is sealed.
    pub fn version(&self) -> u64 {
        if self.personal().iter().any(|(_, p)| p.is_sealed()) {
            SEALED_VERSION
        } else {
            VERSION
        }
    }

    /// The personal fields the event holds: (field name, value).
    pub fn personal(&self) -> Vec<(&'static str, &Personal)> {
        match self {
            Event::TeacherRegistered(e) => vec![("name", &e.name)],
            Event::TeacherProfileUpdated(e) => e.name.iter().map(|n| ("name", n)).collect(),
            Event::TeacherReturned(e) => e.reason_text.iter().map(|t| ("reason_text", t)).collect(),
            _ => Vec::new(),
        }
    }

    /// The event with each personal field replaced by what `f(field, value)` gives.
    pub fn map_personal<E>(
        &self,
        mut f: impl FnMut(&'static str, &Personal) -> Result<Personal, E>,
    ) -> Result<Event, E> {
        Ok(match self {
            Event::TeacherRegistered(e) => Event::TeacherRegistered(TeacherRegistered {
                name: f("name", &e.name)?,
                ..e.clone()
            }),
            Event::TeacherProfileUpdated(e) => {
                Event::TeacherProfileUpdated(TeacherProfileUpdated {
                    name: e.name.as_ref().map(|n| f("name", n)).transpose()?,
                    ..e.clone()
                })
            }
            Event::TeacherReturned(e) => Event::TeacherReturned(TeacherReturned {
                reason_text: e
                    .reason_text
                    .as_ref()
                    .map(|t| f("reason_text", t))
                    .transpose()?,
                ..e.clone()
            }),
            other => other.clone(),
        })
    }

    /// The form an append's fingerprint covers (FORMAT.md §1.6): the canonical JSON with
    /// every personal field blanked to `{"sealed":""}`. The same for the plain event a client
    /// sends and the sealed one read back from the log, so a restore rebuilds the same
    /// idempotency records; and no record holds a hash of a name.
    pub fn fingerprint_json(&self) -> String {
        match self.map_personal(|_, _| Ok::<_, ()>(Personal::Sealed(Arc::from(&[][..])))) {
            Ok(e) => e.to_json(),
            Err(()) => self.to_json(),
        }
    }

    /// The stored payload: the canonical JSON plus, for an entry about a teacher, the
    /// `teacher_prev` link to the previous entry about the same teacher (`null` for the first).
    /// See "Per-teacher history chain" in `docs/EVENTS.md`.
    pub fn to_stored(&self, teacher_prev: Option<Option<EntryLink>>) -> String {
        let mut s = self.to_json();
        if let Some(link) = teacher_prev {
            s.pop();
            match link {
                None => s.push_str(",\"teacher_prev\":null}"),
                Some(l) => {
                    s.push_str(&format!(
                        ",\"teacher_prev\":{{\"seq\":{},\"hash\":\"{}\"}}}}",
                        l.seq,
                        hex::encode(l.hash)
                    ));
                }
            }
        }
        s
    }

    /// Decodes a stored payload: the event, and its `teacher_prev` link if it has one
    /// (`Some(None)` for a `null` link).
    ///
    /// Stored payloads are the canonical JSON the ledger wrote itself, and a replay decodes
    /// millions of them: they take a typed fast path ([`Event::decode_stored_fast`]), and
    /// whatever it refuses goes through the strict decoder, which gives the result (or the
    /// error) it always did. The fast path accepts nothing the strict decoder refuses and
    /// decodes what it accepts to the same value (a property test checks both).
    pub fn decode_stored(text: &str) -> Result<(Event, Option<Option<EntryLink>>), DecodeError> {
        match Event::decode_stored_fast(text) {
            Some(decoded) => Ok(decoded),
            None => Event::decode_stored_strict(text),
        }
    }

    /// The typed fast path of [`Event::decode_stored`]: `None` when the text is not a stored
    /// payload it can decode by itself (not `"type"` first, an escape in an id, a date or a
    /// vocabulary value, an unknown or repeated field, any invalid value, a `policy_adopted`
    /// event, ...); the strict decoder then decides.
    pub fn decode_stored_fast(text: &str) -> Option<(Event, Option<Option<EntryLink>>)> {
        fast::decode(text)
    }

    /// [`Event::decode_stored`] through the strict, field-by-field decoder alone.
    pub fn decode_stored_strict(
        text: &str,
    ) -> Result<(Event, Option<Option<EntryLink>>), DecodeError> {
        let mut v: Value = serde_json::from_str(text)
            .map_err(|e| DecodeError::new("event", format!("not JSON: {e}")))?;
        let link = match v.as_object_mut().and_then(|m| m.remove(TEACHER_PREV)) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(l) => Some(Some(decode_link(l)?)),
        };
        Ok((Event::decode_versioned(v, true)?, link))
    }
}

fn decode_link(v: Value) -> Result<EntryLink, DecodeError> {
    let mut f = Fields::new(v, TEACHER_PREV)?;
    let seq = f.uint("seq", 0, u64::MAX)?;
    let h = f.text("hash", 64)?;
    f.finish()?;
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&h, &mut hash)
        .map_err(|_| DecodeError::new("teacher_prev.hash", "is not 64 hex digits"))?;
    Ok(EntryLink { seq, hash })
}

/// A group lists at least one school, its lead among them.
fn check_group(g: &GroupFormed) -> Result<(), DecodeError> {
    if g.schools.is_empty() {
        return Err(DecodeError::new("schools", "is empty"));
    }
    if !g.schools.contains(&g.lead_school) {
        return Err(DecodeError::new(
            "lead_school",
            format!("{} is not one of the group's schools", g.lead_school),
        ));
    }
    Ok(())
}

/// A profile update changes something, and a title date comes with a title.
fn check_profile(p: &TeacherProfileUpdated) -> Result<(), DecodeError> {
    if p.name.is_none()
        && p.subject.is_none()
        && p.title.is_none()
        && p.key_level.is_none()
        && p.retirement_date.is_none()
    {
        return Err(DecodeError::new(
            "teacher_profile_updated",
            "changes nothing: set at least one of name, subject, title, key_level, retirement_date",
        ));
    }
    if p.title_date.is_some() && p.title.is_none() {
        return Err(DecodeError::new("title_date", "is given without a title"));
    }
    Ok(())
}

/// A return for reason `other` says why.
fn check_return(r: &TeacherReturned) -> Result<(), DecodeError> {
    if r.reason == ReturnReason::Other && r.reason_text.is_none() {
        return Err(DecodeError::new(
            "reason_text",
            "is missing: a return for reason \"other\" must say why",
        ));
    }
    Ok(())
}

/// A title promotion names a known title.
fn check_promotion(kind: PromotionKind, to: &str) -> Result<(), DecodeError> {
    if kind == PromotionKind::Title && Title::parse(to).is_none() {
        return Err(DecodeError::new(
            "to",
            format!(
                "unknown title {to:?}; expected one of {}",
                Title::spellings()
            ),
        ));
    }
    Ok(())
}

fn decode_fields(ty: &str, f: &mut Fields) -> Result<Event, DecodeError> {
    Ok(match ty {
        "school_registered" => Event::SchoolRegistered(SchoolRegistered {
            school: f.id("school")?,
            name: f.text("name", MAX_NAME_LEN)?,
            stage: f.vocab("stage")?,
            standing: f.vocab("standing")?,
            rural: f.boolean("rural")?,
            date: f.date("date")?,
        }),
        "school_standing_changed" => Event::SchoolStandingChanged(SchoolStandingChanged {
            school: f.id("school")?,
            standing: f.vocab("standing")?,
            date: f.date("date")?,
        }),
        "group_formed" => {
            let g = GroupFormed {
                group: f.id("group")?,
                kind: f.vocab("kind")?,
                name: f.text("name", MAX_NAME_LEN)?,
                lead_school: f.id("lead_school")?,
                schools: f.ids("schools", MAX_GROUP_SCHOOLS)?,
                date: f.date("date")?,
            };
            check_group(&g)?;
            Event::GroupFormed(g)
        }
        "group_membership_changed" => Event::GroupMembershipChanged(GroupMembershipChanged {
            group: f.id("group")?,
            school: f.id("school")?,
            change: f.vocab("change")?,
            date: f.date("date")?,
        }),
        "teacher_registered" => Event::TeacherRegistered(TeacherRegistered {
            teacher: f.id("teacher")?,
            name: f.personal("name", MAX_NAME_LEN)?,
            school: f.id("school")?,
            subject: f.id("subject")?,
            title: f.vocab("title")?,
            title_date: f.opt_date("title_date")?,
            key_level: f.vocab("key_level")?,
            employed_date: f.date("employed_date")?,
            retirement_date: f.opt_date("retirement_date")?,
            date: f.date("date")?,
        }),
        "teacher_profile_updated" => {
            let p = TeacherProfileUpdated {
                teacher: f.id("teacher")?,
                name: f.opt_personal("name", MAX_NAME_LEN)?,
                subject: f.opt_id("subject")?,
                title: f.opt_vocab("title")?,
                title_date: f.opt_date("title_date")?,
                key_level: f.opt_vocab("key_level")?,
                retirement_date: f.opt_date("retirement_date")?,
                date: f.date("date")?,
            };
            check_profile(&p)?;
            Event::TeacherProfileUpdated(p)
        }
        "teacher_transferred" => Event::TeacherTransferred(TeacherTransferred {
            teacher: f.id("teacher")?,
            school: f.id("school")?,
            date: f.date("date")?,
        }),
        "policy_adopted" => {
            let preset: Option<Preset> = f.opt_vocab("preset")?;
            let parameters = match f.take("parameters") {
                Some(v) => PolicyParameters::decode(v, preset.is_none())?,
                None if preset.is_some() => PolicyParameters::default(),
                None => {
                    return Err(DecodeError::new(
                        "parameters",
                        "is missing: give a preset, or every parameter",
                    ));
                }
            };
            Event::PolicyAdopted(PolicyAdopted {
                preset,
                parameters,
                date: f.date("date")?,
            })
        }
        "teacher_dispatched" => Event::TeacherDispatched(TeacherDispatched {
            dispatch: f.id("dispatch")?,
            teacher: f.id("teacher")?,
            from_school: f.id("from_school")?,
            to_school: f.id("to_school")?,
            start_date: f.date("start_date")?,
            kind: f.vocab("kind")?,
            team: f.opt_id("team")?,
        }),
        "teacher_returned" => {
            let r = TeacherReturned {
                dispatch: f.id("dispatch")?,
                return_date: f.date("return_date")?,
                reason: f.vocab("reason")?,
                reason_text: f.opt_personal("reason_text", MAX_TEXT_LEN)?,
            };
            check_return(&r)?;
            Event::TeacherReturned(r)
        }
        "teacher_evaluated" => Event::TeacherEvaluated(TeacherEvaluated {
            dispatch: f.id("dispatch")?,
            school: f.id("school")?,
            school_year: SchoolYear(f.uint(
                "school_year",
                super::fields::MIN_YEAR as u64,
                super::fields::MAX_YEAR as u64 - 1,
            )? as i32),
            grade: f.vocab("grade")?,
            date: f.date("date")?,
        }),
        "teacher_promoted" => {
            let kind: PromotionKind = f.vocab("kind")?;
            let to = f.text("to", MAX_NAME_LEN)?;
            check_promotion(kind, &to)?;
            Event::TeacherPromoted(TeacherPromoted {
                teacher: f.id("teacher")?,
                kind,
                to,
                date: f.date("date")?,
                rotation_credit: f.boolean("rotation_credit")?,
            })
        }
        "entry_voided" => Event::EntryVoided(EntryVoided {
            seq: f.uint("seq", 0, u64::MAX)?,
            reason: f.text("reason", MAX_TEXT_LEN)?,
        }),
        "personal_data_erased" => Event::PersonalDataErased(PersonalDataErased {
            teacher: f.id("teacher")?,
            basis: f.text("basis", MAX_TEXT_LEN)?,
            date: f.date("date")?,
        }),
        other => {
            return Err(DecodeError::new(
                "type",
                format!("unknown event type {other:?}"),
            ));
        }
    })
}

/// The typed fast path for stored payloads: serde structs with borrowed strings, one per event
/// type, read straight from the text (no `serde_json::Value`, no field map). Every value is
/// validated with the strict decoder's own functions (`Id::new`, `check_text`,
/// `Vocabulary::parse`, `parse_date`, the `check_*` rules above), and every doubt is a `None`:
/// the strict decoder then gives the answer, so the two can only differ in speed.
mod fast {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer};

    use super::super::fields::{MAX_YEAR, MIN_YEAR, parse_date};
    use super::super::id::check_text;
    use super::*;

    type Link = Option<Option<EntryLink>>;

    /// `teacher_prev`: absent is `None` (serde's default), `null` is `Some(None)`.
    fn link<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<RawLink<'de>>>, D::Error> {
        Option::<RawLink<'de>>::deserialize(d).map(Some)
    }

    #[derive(Deserialize, Clone, Copy)]
    #[serde(deny_unknown_fields)]
    struct RawLink<'a> {
        seq: u64,
        hash: &'a str,
    }

    /// What every stored payload has besides its own fields.
    struct Common<'a> {
        ty: &'a str,
        version: u64,
        teacher_prev: Option<Option<RawLink<'a>>>,
    }

    impl Common<'_> {
        /// The link, if `ty` is the type the text starts with and the version is known
        /// (the sealed version only for the types with personal fields, whose values
        /// [`personal`] has read by the version).
        fn check(self, expected: &str) -> Option<Link> {
            let sealed_ok = self.version == SEALED_VERSION
                && PERSONAL_FIELDS.iter().any(|(t, _)| *t == expected);
            if self.ty != expected || !(self.version == VERSION || sealed_ok) {
                return None;
            }
            Some(match self.teacher_prev {
                None => None,
                Some(None) => Some(None),
                Some(Some(l)) => {
                    // The strict reader's `text("hash", 64)` then 32 bytes of hex: exactly 64
                    // hex digits (which `check_text` always accepts).
                    Some(Some(EntryLink {
                        seq: l.seq,
                        hash: hex32(l.hash)?,
                    }))
                }
            })
        }
    }

    /// Hex digits for [`hex32`]: the value of each, 0xFF for anything else.
    const HEX: [u8; 256] = {
        let mut t = [0xFF; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };

    /// Exactly 64 hex digits (either case) as 32 bytes: what `hex::decode_to_slice` accepts
    /// into 32 bytes, by table instead of its branches per digit (which were 6% of the
    /// decoding stage of a replay, one link per entry about a teacher).
    pub(super) fn hex32(s: &str) -> Option<[u8; 32]> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (hi, lo) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
            // A digit is below 16; 0xFF (not a digit) sets the high bits.
            bad |= hi | lo;
            *o = (hi << 4) | lo;
        }
        (bad & 0xF0 == 0).then_some(out)
    }

    /// Declares the borrowed struct of one event type: `type`, `version`, its fields, and
    /// `teacher_prev`, unknown fields refused.
    macro_rules! raw {
        ($name:ident { $($(#[$m:meta])* $field:ident : $ty:ty),* $(,)? }) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct $name<'a> {
                #[serde(rename = "type")]
                ty: &'a str,
                version: u64,
                $($(#[$m])* $field: $ty,)*
                #[serde(default, borrow, deserialize_with = "link")]
                teacher_prev: Option<Option<RawLink<'a>>>,
            }
            impl<'a> $name<'a> {
                fn common(&self) -> Common<'a> {
                    Common {
                        ty: self.ty,
                        version: self.version,
                        teacher_prev: self.teacher_prev,
                    }
                }
            }
        };
    }

    type Text<'a> = Cow<'a, str>;

    /// A personal field as stored: its text (version 1) or `{"sealed":"<base64>"}` (the
    /// sealed version, FORMAT.md §1.12).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum RawPersonal<'a> {
        Plain(#[serde(borrow)] Text<'a>),
        Sealed(#[serde(borrow)] RawSealed<'a>),
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawSealed<'a> {
        sealed: &'a str,
    }

    /// A personal field read as the strict decoder reads it for `version`: plain text in
    /// version 1, a sealed value in the sealed version (base64 of at most `4 * (max + 64)`
    /// characters); anything else is the strict decoder's to judge.
    fn personal(p: RawPersonal<'_>, version: u64, max: usize) -> Option<Personal> {
        match p {
            RawPersonal::Plain(s) if version == VERSION => text(s, max).map(Personal::Plain),
            RawPersonal::Sealed(r) if version == SEALED_VERSION => {
                let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
                if r.sealed.len() > 4 * (max + 64) || !r.sealed.bytes().all(base64) {
                    return None;
                }
                Personal::from_sealed_text(r.sealed).ok()
            }
            _ => None,
        }
    }

    fn opt_personal(
        p: Option<RawPersonal<'_>>,
        version: u64,
        max: usize,
    ) -> Option<Option<Personal>> {
        opt(p, |p| personal(p, version, max))
    }

    raw!(SchoolRegisteredRaw {
        school: &'a str,
        #[serde(borrow)]
        name: Cow<'a, str>,
        stage: &'a str,
        standing: &'a str,
        rural: bool,
        date: &'a str,
    });
    raw!(SchoolStandingChangedRaw {
        school: &'a str,
        standing: &'a str,
        date: &'a str,
    });
    raw!(GroupFormedRaw {
        group: &'a str,
        kind: &'a str,
        #[serde(borrow)]
        name: Cow<'a, str>,
        lead_school: &'a str,
        #[serde(borrow)]
        schools: Vec<&'a str>,
        date: &'a str,
    });
    raw!(GroupMembershipChangedRaw {
        group: &'a str,
        school: &'a str,
        change: &'a str,
        date: &'a str,
    });
    raw!(TeacherRegisteredRaw {
        teacher: &'a str,
        #[serde(borrow)]
        name: RawPersonal<'a>,
        school: &'a str,
        subject: &'a str,
        title: &'a str,
        title_date: Option<&'a str>,
        key_level: &'a str,
        employed_date: &'a str,
        retirement_date: Option<&'a str>,
        date: &'a str,
    });
    raw!(TeacherProfileUpdatedRaw {
        teacher: &'a str,
        #[serde(borrow)]
        name: Option<RawPersonal<'a>>,
        subject: Option<&'a str>,
        title: Option<&'a str>,
        title_date: Option<&'a str>,
        key_level: Option<&'a str>,
        retirement_date: Option<&'a str>,
        date: &'a str,
    });
    raw!(TeacherTransferredRaw {
        teacher: &'a str,
        school: &'a str,
        date: &'a str,
    });
    raw!(TeacherDispatchedRaw {
        dispatch: &'a str,
        teacher: &'a str,
        from_school: &'a str,
        to_school: &'a str,
        start_date: &'a str,
        kind: &'a str,
        team: Option<&'a str>,
    });
    raw!(TeacherReturnedRaw {
        dispatch: &'a str,
        return_date: &'a str,
        reason: &'a str,
        #[serde(borrow)]
        reason_text: Option<RawPersonal<'a>>,
    });
    raw!(TeacherEvaluatedRaw {
        dispatch: &'a str,
        school: &'a str,
        school_year: u64,
        grade: &'a str,
        date: &'a str,
    });
    raw!(TeacherPromotedRaw {
        teacher: &'a str,
        kind: &'a str,
        #[serde(borrow)]
        to: Cow<'a, str>,
        date: &'a str,
        rotation_credit: bool,
    });
    raw!(EntryVoidedRaw {
        seq: u64,
        #[serde(borrow)]
        reason: Cow<'a, str>,
    });

    /// An optional field: absent is fine (`Some(None)`), present must decode.
    fn opt<T, U>(s: Option<T>, decode: impl FnOnce(T) -> Option<U>) -> Option<Option<U>> {
        match s {
            None => Some(None),
            Some(v) => decode(v).map(Some),
        }
    }

    fn id(s: &str) -> Option<Id> {
        Id::new(s).ok()
    }

    fn opt_id(s: Option<&str>) -> Option<Option<Id>> {
        opt(s, id)
    }

    fn text(s: Text<'_>, max: usize) -> Option<String> {
        check_text(&s, max).ok()?;
        Some(s.into_owned())
    }

    fn vocab<V: Vocabulary>(s: &str) -> Option<V> {
        V::parse(s)
    }

    fn opt_vocab<V: Vocabulary>(s: Option<&str>) -> Option<Option<V>> {
        opt(s, vocab)
    }

    fn date(s: &str) -> Option<NaiveDate> {
        parse_date(s).ok()
    }

    fn opt_date(s: Option<&str>) -> Option<Option<NaiveDate>> {
        opt(s, date)
    }

    fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
        serde_json::from_str(text).ok()
    }

    /// See [`Event::decode_stored_fast`].
    pub(super) fn decode(payload: &str) -> Option<(Event, Link)> {
        // The canonical form starts with the type: it says which struct to read.
        let rest = payload.strip_prefix("{\"type\":\"")?;
        let ty = &rest[..rest.find('"')?];
        let (event, common) = match ty {
            "school_registered" => {
                let r: SchoolRegisteredRaw = parse(payload)?;
                let c = r.common();
                let e = Event::SchoolRegistered(SchoolRegistered {
                    school: id(r.school)?,
                    name: text(r.name, MAX_NAME_LEN)?,
                    stage: vocab(r.stage)?,
                    standing: vocab(r.standing)?,
                    rural: r.rural,
                    date: date(r.date)?,
                });
                (e, c)
            }
            "school_standing_changed" => {
                let r: SchoolStandingChangedRaw = parse(payload)?;
                let c = r.common();
                let e = Event::SchoolStandingChanged(SchoolStandingChanged {
                    school: id(r.school)?,
                    standing: vocab(r.standing)?,
                    date: date(r.date)?,
                });
                (e, c)
            }
            "group_formed" => {
                let r: GroupFormedRaw = parse(payload)?;
                let c = r.common();
                if r.schools.len() > MAX_GROUP_SCHOOLS {
                    return None;
                }
                let mut schools: Vec<Id> = Vec::with_capacity(r.schools.len());
                for s in &r.schools {
                    let s = id(s)?;
                    if schools.contains(&s) {
                        return None;
                    }
                    schools.push(s);
                }
                let g = GroupFormed {
                    group: id(r.group)?,
                    kind: vocab(r.kind)?,
                    name: text(r.name, MAX_NAME_LEN)?,
                    lead_school: id(r.lead_school)?,
                    schools,
                    date: date(r.date)?,
                };
                check_group(&g).ok()?;
                (Event::GroupFormed(g), c)
            }
            "group_membership_changed" => {
                let r: GroupMembershipChangedRaw = parse(payload)?;
                let c = r.common();
                let e = Event::GroupMembershipChanged(GroupMembershipChanged {
                    group: id(r.group)?,
                    school: id(r.school)?,
                    change: vocab(r.change)?,
                    date: date(r.date)?,
                });
                (e, c)
            }
            "teacher_registered" => {
                let r: TeacherRegisteredRaw = parse(payload)?;
                let c = r.common();
                let e = Event::TeacherRegistered(TeacherRegistered {
                    teacher: id(r.teacher)?,
                    name: personal(r.name, r.version, MAX_NAME_LEN)?,
                    school: id(r.school)?,
                    subject: id(r.subject)?,
                    title: vocab(r.title)?,
                    title_date: opt_date(r.title_date)?,
                    key_level: vocab(r.key_level)?,
                    employed_date: date(r.employed_date)?,
                    retirement_date: opt_date(r.retirement_date)?,
                    date: date(r.date)?,
                });
                (e, c)
            }
            "teacher_profile_updated" => {
                let r: TeacherProfileUpdatedRaw = parse(payload)?;
                let c = r.common();
                let p = TeacherProfileUpdated {
                    teacher: id(r.teacher)?,
                    name: opt_personal(r.name, r.version, MAX_NAME_LEN)?,
                    subject: opt_id(r.subject)?,
                    title: opt_vocab(r.title)?,
                    title_date: opt_date(r.title_date)?,
                    key_level: opt_vocab(r.key_level)?,
                    retirement_date: opt_date(r.retirement_date)?,
                    date: date(r.date)?,
                };
                check_profile(&p).ok()?;
                (Event::TeacherProfileUpdated(p), c)
            }
            "teacher_transferred" => {
                let r: TeacherTransferredRaw = parse(payload)?;
                let c = r.common();
                let e = Event::TeacherTransferred(TeacherTransferred {
                    teacher: id(r.teacher)?,
                    school: id(r.school)?,
                    date: date(r.date)?,
                });
                (e, c)
            }
            "teacher_dispatched" => {
                let r: TeacherDispatchedRaw = parse(payload)?;
                let c = r.common();
                let e = Event::TeacherDispatched(TeacherDispatched {
                    dispatch: id(r.dispatch)?,
                    teacher: id(r.teacher)?,
                    from_school: id(r.from_school)?,
                    to_school: id(r.to_school)?,
                    start_date: date(r.start_date)?,
                    kind: vocab(r.kind)?,
                    team: opt_id(r.team)?,
                });
                (e, c)
            }
            "teacher_returned" => {
                let r: TeacherReturnedRaw = parse(payload)?;
                let c = r.common();
                let ret = TeacherReturned {
                    dispatch: id(r.dispatch)?,
                    return_date: date(r.return_date)?,
                    reason: vocab(r.reason)?,
                    reason_text: opt_personal(r.reason_text, r.version, MAX_TEXT_LEN)?,
                };
                check_return(&ret).ok()?;
                (Event::TeacherReturned(ret), c)
            }
            "teacher_evaluated" => {
                let r: TeacherEvaluatedRaw = parse(payload)?;
                let c = r.common();
                if !(MIN_YEAR as u64..=MAX_YEAR as u64 - 1).contains(&r.school_year) {
                    return None;
                }
                let e = Event::TeacherEvaluated(TeacherEvaluated {
                    dispatch: id(r.dispatch)?,
                    school: id(r.school)?,
                    school_year: SchoolYear(i32::try_from(r.school_year).ok()?),
                    grade: vocab(r.grade)?,
                    date: date(r.date)?,
                });
                (e, c)
            }
            "teacher_promoted" => {
                let r: TeacherPromotedRaw = parse(payload)?;
                let c = r.common();
                let kind: PromotionKind = vocab(r.kind)?;
                let to = text(r.to, MAX_NAME_LEN)?;
                check_promotion(kind, &to).ok()?;
                let e = Event::TeacherPromoted(TeacherPromoted {
                    teacher: id(r.teacher)?,
                    kind,
                    to,
                    date: date(r.date)?,
                    rotation_credit: r.rotation_credit,
                });
                (e, c)
            }
            "entry_voided" => {
                let r: EntryVoidedRaw = parse(payload)?;
                let c = r.common();
                let e = Event::EntryVoided(EntryVoided {
                    seq: r.seq,
                    reason: text(r.reason, MAX_TEXT_LEN)?,
                });
                (e, c)
            }
            // `policy_adopted` (a handful per log, with nested parameters) and anything
            // unknown: the strict decoder.
            _ => return None,
        };
        let link = common.check(ty)?;
        Some((event, link))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast hex reader accepts and reads exactly what `hex::decode_to_slice` does: every
    /// byte value in every position of a 64-digit text, and wrong lengths.
    #[test]
    fn hex32_agrees_with_the_hex_crate() {
        let reference = |s: &str| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(s, &mut out).ok().map(|()| out)
        };
        let base: Vec<u8> = b"0123456789abcdefABCDEF"
            .iter()
            .cycle()
            .take(64)
            .copied()
            .collect();
        for at in [0, 1, 31, 62, 63] {
            for byte in 0..=255u8 {
                let mut b = base.clone();
                b[at] = byte;
                let Ok(text) = std::str::from_utf8(&b) else {
                    continue;
                };
                assert_eq!(fast::hex32(text), reference(text), "{text:?}");
            }
        }
        for len in [0, 2, 62, 63, 65, 66] {
            let text = "a".repeat(len);
            assert_eq!(fast::hex32(&text), None, "{len} digits");
        }
        assert_eq!(
            fast::hex32(std::str::from_utf8(&base).unwrap()),
            reference(std::str::from_utf8(&base).unwrap())
        );
    }

    const SCHOOL: &str = r#"{"type":"school_registered","version":1,"school":"S001","name":"Minhang No.1 Primary","stage":"primary","standing":"strong","rural":false,"date":"2024-09-01"}"#;

    #[test]
    fn the_binding_school_form_round_trips_byte_for_byte() {
        let e = Event::decode(SCHOOL).unwrap();
        assert_eq!(e.to_json(), SCHOOL);
        assert_eq!(Event::decode(&e.to_json()).unwrap(), e);
    }

    #[test]
    fn canonical_form_ignores_input_order_and_whitespace() {
        let shuffled = r#"{ "date":"2024-09-01", "rural":false, "standing":"strong", "stage":"primary",
            "name":"Minhang No.1 Primary", "school":"S001", "version":1, "type":"school_registered" }"#;
        assert_eq!(Event::decode(shuffled).unwrap().to_json(), SCHOOL);
    }

    fn field_of(text: &str) -> String {
        Event::decode(text).unwrap_err().field
    }

    #[test]
    fn decoding_errors_name_the_field() {
        let with = |k: &str, v: &str| {
            let mut m: serde_json::Map<String, Value> = serde_json::from_str(SCHOOL).unwrap();
            if v.is_empty() {
                m.remove(k);
            } else {
                m.insert(k.into(), serde_json::from_str(v).unwrap());
            }
            Value::Object(m).to_string()
        };
        let cases: &[(&str, &str, &str)] = &[
            ("colour", "\"red\"", "colour"),
            ("stage", "\"university\"", "stage"),
            ("standing", "\"excellent\"", "standing"),
            ("date", "\"2023-02-29\"", "date"),
            ("date", "\"2024-13-01\"", "date"),
            ("date", "", "date"),
            ("school", "\"\"", "school"),
            ("school", "\"a b\"", "school"),
            ("school", &format!("\"{}\"", "x".repeat(65)), "school"),
            ("name", "\"\"", "name"),
            ("name", &format!("\"{}\"", "x".repeat(201)), "name"),
            ("rural", "\"no\"", "rural"),
            ("version", "2", "version"),
            ("type", "\"school_demolished\"", "type"),
            ("teacher_prev", "null", "teacher_prev"),
        ];
        for (k, v, field) in cases {
            assert_eq!(field_of(&with(k, v)), *field, "{k}={v}");
        }
        assert_eq!(field_of("[1]"), "event");
        assert_eq!(field_of("{"), "event");
    }

    #[test]
    fn every_event_type_round_trips() {
        let texts = [
            SCHOOL,
            r#"{"type":"school_standing_changed","version":1,"school":"S001","standing":"weak","date":"2025-01-01"}"#,
            r#"{"type":"group_formed","version":1,"group":"G1","kind":"education_group","name":"Minhang Group","lead_school":"S001","schools":["S001","S002"],"date":"2024-09-01"}"#,
            r#"{"type":"group_membership_changed","version":1,"group":"G1","school":"S003","change":"joined","date":"2025-09-01"}"#,
            r#"{"type":"teacher_registered","version":1,"teacher":"T1","name":"Li Hua","school":"S001","subject":"mathematics","title":"intermediate","title_date":"2015-07-01","key_level":"district","employed_date":"2010-09-01","date":"2024-09-01"}"#,
            r#"{"type":"teacher_profile_updated","version":1,"teacher":"T1","key_level":"city","date":"2025-03-01"}"#,
            r#"{"type":"teacher_transferred","version":1,"teacher":"T1","school":"S002","date":"2025-09-01"}"#,
            r#"{"type":"policy_adopted","version":1,"preset":"national-2014","parameters":{"min_team_size":4,"min_outflow_ratio":"0.15"},"date":"2025-01-01"}"#,
            r#"{"type":"teacher_dispatched","version":1,"dispatch":"D1","teacher":"T1","from_school":"S001","to_school":"S009","start_date":"2024-09-01","kind":"rotation","team":"TM1"}"#,
            r#"{"type":"teacher_returned","version":1,"dispatch":"D1","return_date":"2025-02-01","reason":"other","reason_text":"post abolished"}"#,
            r#"{"type":"teacher_evaluated","version":1,"dispatch":"D1","school":"S009","school_year":2024,"grade":"excellent","date":"2025-07-01"}"#,
            r#"{"type":"teacher_promoted","version":1,"teacher":"T1","kind":"title","to":"senior","date":"2026-01-01","rotation_credit":true}"#,
            r#"{"type":"entry_voided","version":1,"seq":12,"reason":"entered twice"}"#,
            r#"{"type":"personal_data_erased","version":1,"teacher":"T1","basis":"PIPL Art. 47 request 2026-031","date":"2026-12-01"}"#,
        ];
        assert_eq!(texts.len(), EVENT_TYPES.len());
        for t in texts {
            let e = Event::decode(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(e.to_json(), t);
        }
    }

    #[test]
    fn sealed_fields_are_version_2_stored_and_refused_from_outside() {
        let plain = Event::decode(
            r#"{"type":"teacher_returned","version":1,"dispatch":"D1","return_date":"2025-02-01","reason":"other","reason_text":"family"}"#,
        )
        .unwrap();
        assert_eq!(plain.version(), VERSION);
        let sealed = plain
            .map_personal(|_, _| Ok::<_, ()>(Personal::Sealed(vec![1u8; 45].into())))
            .unwrap();
        assert_eq!(sealed.version(), SEALED_VERSION);
        let stored = sealed.to_stored(Some(None));
        assert!(
            stored.starts_with(r#"{"type":"teacher_returned","version":2,"#),
            "{stored}"
        );
        assert!(
            stored.contains(r#""reason_text":{"sealed":"AQEB"#),
            "{stored}"
        );
        assert_eq!(
            Event::decode_stored(&stored).unwrap(),
            (sealed.clone(), Some(None))
        );
        // The typed fast path reads sealed payloads too, as the strict decoder does.
        assert_eq!(
            Event::decode_stored_fast(&stored),
            Some(Event::decode_stored_strict(&stored).unwrap())
        );
        let registered = Event::decode(
            r#"{"type":"teacher_registered","version":1,"teacher":"T1","name":"王芳","school":"S1","subject":"mathematics","title":"intermediate","key_level":"none","employed_date":"2005-09-01","date":"2010-01-01"}"#,
        )
        .unwrap()
        .map_personal(|_, _| Ok::<_, ()>(Personal::Sealed(vec![7u8; 45].into())))
        .unwrap()
        .to_stored(Some(None));
        assert_eq!(
            Event::decode_stored_fast(&registered),
            Some(Event::decode_stored_strict(&registered).unwrap())
        );
        // A plain field in the sealed version, or a sealed one in version 1, is the strict
        // decoder's to refuse.
        for wrong in [
            registered.replacen(r#""version":2"#, r#""version":1"#, 1),
            stored.replacen(r#""version":2"#, r#""version":1"#, 1),
        ] {
            assert_eq!(Event::decode_stored_fast(&wrong), None, "{wrong}");
            assert!(Event::decode_stored_strict(&wrong).is_err(), "{wrong}");
        }
        // From an HR system, version 2 is refused with the reason, and so is a sealed field
        // in version 1.
        let e = Event::decode(&sealed.to_json()).unwrap_err();
        assert_eq!(e.field, "version");
        assert!(
            e.problem.contains("only the ledger writes"),
            "{}",
            e.problem
        );
        let v1 = sealed.to_json().replace("\"version\":2", "\"version\":1");
        assert_eq!(Event::decode(&v1).unwrap_err().field, "reason_text");
        // A version 2 of an event with no personal field is no version at all.
        assert!(Event::decode_stored(r#"{"type":"teacher_transferred","version":2,"teacher":"T1","school":"S002","date":"2025-09-01"}"#).is_err());
    }

    #[test]
    fn event_specific_checks() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"type":"teacher_returned","version":1,"dispatch":"D1","return_date":"2025-02-01","reason":"other"}"#,
                "reason_text",
            ),
            (
                r#"{"type":"teacher_promoted","version":1,"teacher":"T1","kind":"title","to":"professor","date":"2026-01-01","rotation_credit":false}"#,
                "to",
            ),
            (
                r#"{"type":"group_formed","version":1,"group":"G1","kind":"district","name":"D","lead_school":"S9","schools":["S1"],"date":"2024-09-01"}"#,
                "lead_school",
            ),
            (
                r#"{"type":"group_formed","version":1,"group":"G1","kind":"district","name":"D","lead_school":"S1","schools":["S1","S1"],"date":"2024-09-01"}"#,
                "schools[1]",
            ),
            (
                r#"{"type":"teacher_profile_updated","version":1,"teacher":"T1","date":"2025-03-01"}"#,
                "teacher_profile_updated",
            ),
            (
                r#"{"type":"policy_adopted","version":1,"parameters":{"min_team_size":4},"date":"2025-01-01"}"#,
                "parameters.min_term_years",
            ),
            (
                r#"{"type":"policy_adopted","version":1,"preset":"beijing-2021","date":"2025-01-01"}"#,
                "preset",
            ),
            (
                r#"{"type":"entry_voided","version":1,"seq":-1,"reason":"x"}"#,
                "seq",
            ),
            (
                r#"{"type":"teacher_evaluated","version":1,"dispatch":"D1","school":"S9","school_year":"2024","grade":"good","date":"2025-07-01"}"#,
                "school_year",
            ),
        ];
        for (t, field) in cases {
            assert_eq!(field_of(t), *field, "{t}");
        }
    }

    #[test]
    fn stored_form_carries_the_teacher_link() {
        let e = Event::decode(r#"{"type":"teacher_transferred","version":1,"teacher":"T1","school":"S002","date":"2025-09-01"}"#).unwrap();
        let first = e.to_stored(Some(None));
        assert!(first.ends_with(r#""date":"2025-09-01","teacher_prev":null}"#));
        let link = EntryLink {
            seq: 12,
            hash: [0xab; 32],
        };
        let later = e.to_stored(Some(Some(link)));
        assert!(later.ends_with(&format!(
            r#""teacher_prev":{{"seq":12,"hash":"{}"}}}}"#,
            "ab".repeat(32)
        )));
        assert_eq!(
            Event::decode_stored(&later).unwrap(),
            (e.clone(), Some(Some(link)))
        );
        assert_eq!(
            Event::decode_stored(&first).unwrap(),
            (e.clone(), Some(None))
        );
        assert_eq!(e.to_stored(None), e.to_json());
        assert_eq!(Event::decode_stored(&e.to_json()).unwrap(), (e, None));
    }

    /// Decodes `text` both ways; returns whether the fast path took it.
    fn fast_and_strict(text: &str) -> bool {
        let strict = Event::decode_stored_strict(text);
        let fast = Event::decode_stored_fast(text);
        if let Some(f) = &fast {
            assert_eq!(strict.as_ref(), Ok(f), "{text}");
        }
        assert_eq!(Event::decode_stored(text), strict, "{text}");
        fast.is_some()
    }

    const TRANSFER: &str = r#"{"type":"teacher_transferred","version":1,"teacher":"T1","school":"S002","date":"2025-09-01"}"#;

    #[test]
    fn the_fast_path_takes_stored_payloads_with_every_form_of_link() {
        let hash = "ab".repeat(32);
        for text in [
            TRANSFER.to_string(),
            TRANSFER.replace('}', r#","teacher_prev":null}"#),
            TRANSFER.replace(
                '}',
                &format!(r#","teacher_prev":{{"seq":12,"hash":"{hash}"}}}}"#),
            ),
        ] {
            assert!(fast_and_strict(&text), "{text}");
        }
        let (_, link) =
            Event::decode_stored_fast(&TRANSFER.replace('}', r#","teacher_prev":null}"#)).unwrap();
        assert_eq!(link, Some(None));
        assert_eq!(Event::decode_stored_fast(TRANSFER).unwrap().1, None);
    }

    #[test]
    fn the_fast_path_reads_escapes_and_non_ascii_text() {
        for text in [
            r#"{"type":"school_registered","version":1,"school":"S001","name":"No.1 \"Bright\" \\ School","stage":"primary","standing":"strong","rural":false,"date":"2024-09-01"}"#,
            r#"{"type":"school_registered","version":1,"school":"S001","name":"闵行区第一中心小学","stage":"primary","standing":"strong","rural":true,"date":"2024-09-01"}"#,
            r#"{"type":"school_registered","version":1,"school":"S001","name":"\u95f5\u884c","stage":"primary","standing":"strong","rural":true,"date":"2024-09-01"}"#,
            r#"{"type":"teacher_returned","version":1,"dispatch":"D1","return_date":"2025-02-01","reason":"other","reason_text":"post \"abolished\"/merged"}"#,
            r#"{"type":"teacher_registered","version":1,"teacher":"教师-7","name":"Li Hua","school":"S001","subject":"mathematics","title":"intermediate","key_level":"district","employed_date":"2010-09-01","date":"2024-09-01"}"#,
        ] {
            assert!(fast_and_strict(text), "{text}");
        }
        let (e, _) = Event::decode_stored_fast(r#"{"type":"school_registered","version":1,"school":"S001","name":"\u95f5\u884c","stage":"primary","standing":"strong","rural":true,"date":"2024-09-01"}"#).unwrap();
        let Event::SchoolRegistered(s) = e else {
            panic!("not a school")
        };
        assert_eq!(s.name, "闵行");
    }

    #[test]
    fn the_fast_path_hands_anything_unusual_to_the_strict_decoder() {
        let with = |from: &str, to: &str| TRANSFER.replace(from, to);
        // Still valid for the strict decoder, refused by the fast path:
        for text in [
            // `type` not first.
            r#"{"version":1,"type":"teacher_transferred","teacher":"T1","school":"S002","date":"2025-09-01"}"#.to_string(),
            r#" {"type":"teacher_transferred","version":1,"teacher":"T1","school":"S002","date":"2025-09-01"}"#.to_string(),
            // An escape in an id or a date.
            with(r#""T1""#, r#""T\u0031""#),
            with("2025-09-01", r#"2025\u002d09-01"#),
            // A repeated field (the strict decoder keeps the last).
            with(r#""school":"S002""#, r#""school":"S001","school":"S002""#),
            // A policy.
            r#"{"type":"policy_adopted","version":1,"preset":"national-2014","parameters":{"min_team_size":4},"date":"2025-01-01"}"#.to_string(),
        ] {
            assert!(!fast_and_strict(&text), "{text}");
            assert!(Event::decode_stored(&text).is_ok(), "{text}");
        }
        // Once the type is known, the fields may come in any order, with whitespace.
        for text in [
            r#"{"type":"teacher_transferred","version":1,"date":"2025-09-01","teacher":"T1","school":"S002"}"#.to_string(),
            with(",", " ,\n "),
        ] {
            assert!(fast_and_strict(&text), "{text}");
        }
        // Invalid: both refuse, and the error is the strict decoder's.
        for (text, field) in [
            (with("}", r#","colour":"red"}"#), "colour"),
            (with(r#""version":1"#, r#""version":2"#), "version"),
            (with(r#""version":1"#, r#""version":1.0"#), "version"),
            (with(r#""T1""#, r#""T 1""#), "teacher"),
            (with(r#""T1""#, "null"), "teacher"),
            (with("2025-09-01", "2025-02-30"), "date"),
            (
                with("}", r#","teacher_prev":{"seq":1,"hash":"zz"}}"#),
                "teacher_prev.hash",
            ),
            (
                with("}", r#","teacher_prev":{"seq":1,"hash":"ab","x":1}}"#),
                "teacher_prev.x",
            ),
            (with("}", r#","teacher_prev":7}"#), "teacher_prev"),
            (with("teacher_transferred", "teacher_moved"), "type"),
        ] {
            assert!(!fast_and_strict(&text), "{text}");
            assert_eq!(
                Event::decode_stored(&text).unwrap_err().field,
                field,
                "{text}"
            );
        }
        for text in [
            "",
            "{",
            "{\"type\":\"",
            "{\"type\":\"entry_voided\"",
            "[]",
            "null",
        ] {
            assert!(!fast_and_strict(text), "{text}");
        }
    }
}
