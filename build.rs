//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so a build needs no system
//! `protoc`, and writes a file descriptor set for gRPC server reflection.

use std::path::PathBuf;

/// The messages of `query.proto` (answers printed as JSON by the CLI).
const QUERY_MESSAGES: &[&str] = &[
    "AccessRecordResponse",
    "Access",
    "Position",
    "Term",
    "TeacherLink",
    "HistoryEntry",
    "Evaluation",
    "Promotion",
    "TeacherSummary",
    "TeacherHistoryRequest",
    "TeacherHistoryResponse",
    "YearGrade",
    "TermCheck",
    "RotationCredit",
    "DispatchDays",
    "ServiceCredit",
    "MentorCheck",
    "MentorCredit",
    "Eligibility",
    "EligibilityRequest",
    "EligibilityResponse",
    "TermsRequest",
    "TermsResponse",
    "TeamMember",
    "Coverage",
    "StrengthChange",
    "Team",
    "TeamsRequest",
    "TeamsResponse",
    "NotEligible",
    "Outflow",
    "SchoolQuota",
    "SchoolQuotaRequest",
    "SchoolQuotaResponse",
    "MemberSchool",
    "GroupSummary",
    "GroupSummaryRequest",
    "GroupSummaryResponse",
    "TeacherDuty",
    "RotationDutyRequest",
    "RotationDutyResponse",
    "DistrictSchool",
    "DistrictGroup",
    "YearOutflow",
    "DistrictRequest",
    "DistrictResponse",
    "OwedEvaluation",
    "EvaluationsOwedRequest",
    "EvaluationsOwedResponse",
    "CertificateRequest",
    "CertificateResponse",
    "CitySource",
    "CrossDistrictSchool",
    "CitySourcesResponse",
    "CityHistoryPart",
    "CityTeacherHistoryResponse",
    "CityEligibilityPart",
    "CityCredits",
    "CityEligibilityResponse",
];

/// The answers of `types.proto`, `ledger.proto` and `audit.proto` served as JSON by the HTTP
/// face (docs/HTTP.md).
const AUDIT_MESSAGES: &[&str] = &[
    "Head",
    "Checkpoint",
    "InclusionProof",
    "Entry",
    "ReadEntriesResponse",
    "VerifyResponse",
    "BadEntry",
    "GetCheckpointResponse",
    "GetInclusionProofResponse",
    "GetConsistencyProofResponse",
    "GetPublicKeyResponse",
    "AppendResponse",
    "Receipt",
    "GetHeadResponse",
    "MirrorState",
    "CheckResponse",
    "CheckResult",
    "CheckRefusal",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/rotaledger/v1/types.proto",
        "proto/rotaledger/v1/ledger.proto",
        "proto/rotaledger/v1/audit.proto",
        "proto/rotaledger/v1/query.proto",
        "proto/rotaledger/v1/city.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // compile_fds does not write the descriptor set itself, so reflection's copy is written here.
    std::fs::write(
        out.join("rotaledger_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    // The Query answers also serialize to JSON for `rotaledger ... --json` and the HTTP face,
    // and the Ledger and Audit answers for the HTTP face: hashes as hex, enums by name,
    // entry bodies as the text they are.
    let mut cfg = tonic_prost_build::configure();
    for m in QUERY_MESSAGES {
        cfg = cfg.type_attribute(format!(".rotaledger.v1.{m}"), "#[derive(serde::Serialize)]");
    }
    for m in AUDIT_MESSAGES {
        cfg = cfg.type_attribute(format!(".rotaledger.v1.{m}"), "#[derive(serde::Serialize)]");
    }
    for f in [
        "Position.head_hash",
        "TeacherLink.hash",
        "CertificateResponse.certificate_hash",
        "HistoryEntry.hash",
        "Head.hash",
        "Head.root",
        "Checkpoint.root",
        "InclusionProof.entry_hash",
        "Entry.prev_hash",
        "Entry.hash",
    ] {
        cfg = cfg.field_attribute(
            format!(".rotaledger.v1.{f}"),
            "#[serde(serialize_with = \"crate::grpc::query_convert::hex_bytes\")]",
        );
    }
    for f in [
        "InclusionProof.hashes",
        "AppendResponse.entry_hashes",
        "GetConsistencyProofResponse.hashes",
    ] {
        cfg = cfg.field_attribute(
            format!(".rotaledger.v1.{f}"),
            "#[serde(serialize_with = \"crate::grpc::query_convert::hex_list\")]",
        );
    }
    cfg = cfg.field_attribute(
        ".rotaledger.v1.Entry.body",
        "#[serde(serialize_with = \"crate::grpc::query_convert::body_text\")]",
    );
    // Proofs appear in a history's JSON only when they were asked for (`with_proofs`).
    for f in ["HistoryEntry.proof", "TeacherHistoryResponse.checkpoint"] {
        cfg = cfg.field_attribute(
            format!(".rotaledger.v1.{f}"),
            "#[serde(skip_serializing_if = \"Option::is_none\")]",
        );
    }
    cfg = cfg.field_attribute(
        ".rotaledger.v1.Term.status",
        "#[serde(serialize_with = \"crate::grpc::query_convert::term_status_name\")]",
    );
    cfg = cfg.field_attribute(
        ".rotaledger.v1.Team.status",
        "#[serde(serialize_with = \"crate::grpc::query_convert::team_status_name\")]",
    );
    cfg = cfg.field_attribute(
        ".rotaledger.v1.DistrictSchool.status",
        "#[serde(serialize_with = \"crate::grpc::query_convert::quota_status_name\")]",
    );
    cfg.compile_fds(fds)?;
    // etcd's v3 API, a client only (failover, docs/FAILOVER.md); kept out of the descriptor
    // set reflection serves, since this server does not answer it.
    let etcd = "proto/etcd/etcd.proto";
    println!("cargo:rerun-if-changed={etcd}");
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(protox::compile([etcd], ["proto"])?)?;
    Ok(())
}
