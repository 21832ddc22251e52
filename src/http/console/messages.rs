//! The console's message catalogue: every label, status and error text a page shows, keyed
//! by message id, in Simplified Chinese (the default) and English.
//!
//! The table is one macro invocation, so a message id that is used but not written down (or
//! written without one of its languages) does not compile.

/// The language a page is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (简体中文): the default.
    Zh,
    /// English, by the switch (`?lang=en`, remembered in a cookie).
    En,
}

impl Lang {
    /// The `lang` value in URLs and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language a `lang` value names (`zh`, `zh-CN`, `en`), if any.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (what the switch offers).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

macro_rules! catalogue {
    ($($id:ident => $zh:literal, $en:literal;)*) => {
        /// A message id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum M { $($id,)* }

        impl M {
            /// The message in `lang`.
            pub fn t(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((M::$id, Lang::Zh) => $zh, (M::$id, Lang::En) => $en,)*
                }
            }
        }

        /// Every message id, for the catalogue's own checks.
        #[cfg(test)]
        const ALL: &[M] = &[$(M::$id,)*];
    };
}

catalogue! {
    AppName => "教师交流轮岗台账", "Teacher rotation ledger";
    SwitchLang => "English", "中文";
    Home => "首页", "Home";
    SignIn => "登录", "Sign in";
    SignOut => "退出登录", "Sign out";
    TokenLabel => "访问令牌", "Access token";
    SignInHelp => "请输入教育局为您签发的访问令牌。令牌只保存在服务器上，不写入浏览器。",
        "Enter the access token your education bureau issued to you. It stays on the server, never in the browser.";
    WrongToken => "令牌无效，请检查后重新输入。", "That token is not valid. Check it and try again.";
    TokenNotText => "令牌只能包含字母、数字和常见符号。", "A token contains only letters, digits and common symbols.";
    FormExpired => "表单已过期，请重新提交。", "The form has expired; please submit it again.";
    SignedInAs => "当前用户", "Signed in as";
    RoleAdmin => "管理员", "administrator";
    RolePrincipal => "校长", "principal";
    RoleTeacher => "教师", "teacher";
    Certificate => "交流轮岗证明", "Rotation service certificate";
    CertificateLink => "查看并打印交流轮岗证明", "View and print the rotation certificate";
    CertificateDownload => "下载可验证的证明文件（JSON）", "Download the verifiable certificate (JSON)";
    CertificateIntro => "本证明由教师交流轮岗台账生成。台账的每条记录都以哈希链相连，并由台账密钥签署的检查点固定；证明文件载有该教师截至检查点的全部记录及其包含证明，任何人可离线核验（rotaledger audit certificate）。", "This certificate was made by the teacher rotation ledger. Every entry of the ledger is hash-chained and fixed by a checkpoint signed with the ledger's key; the certificate file carries all of the teacher's entries up to the checkpoint with their inclusion proofs, and anyone can check it offline (rotaledger audit certificate).";
    CertificateTeacher => "教师编号", "Teacher id";
    CertificateAsOf => "截至日期", "As of";
    CertificateHome => "编制学校", "Home school";
    CertificateService => "交流轮岗经历", "Rotation service";
    CertificateFrom => "派出学校", "From";
    CertificateTo => "接收学校", "To";
    CertificateKind => "类型", "Kind";
    CertificateStart => "起始日期", "Start";
    CertificateMinEnd => "最短期满", "Minimum end";
    CertificateEnd => "返回日期", "Returned";
    CertificateStatus => "状态", "Status";
    CertificateDays => "服务天数", "Days served";
    CertificateEvaluations => "接收学校考核", "Evaluations by the receiving school";
    CertificateYear => "学年", "School year";
    CertificateGrade => "等次", "Grade";
    CertificatePromotions => "晋升记录", "Promotions";
    CertificateVerdict => "晋升资格结论", "Promotion-credit verdict";
    CertificateMet => "符合", "met";
    CertificateNotMet => "不符合", "not met";
    CertificateRotation => "职称/职级晋升的交流轮岗经历", "Rotation credit (title and rank promotions)";
    CertificateLeadership => "提任校级干部的2年交流经历", "Leadership credit (2 years in the district or group)";
    CertificateMentor => "跟岗培训考核优良回原校", "Returning mentor (training rated good or better)";
    CertificateSenior => "申报高级职称的乡村/薄弱学校任教经历", "Senior-title precondition (rural or weak schools)";
    CertificateDaysOf => "天，要求", " days served, required";
    CertificateCheck => "核验信息", "How to check";
    CertificateCheckText => "扫描二维码可得台账名称、检查点大小与根哈希、证明哈希；用台账公钥运行 rotaledger audit certificate 证明文件 --key 公钥 即可离线核验。", "The QR code carries the log's origin, the checkpoint's size and root, and the certificate hash; run rotaledger audit certificate FILE --key PUBLIC-KEY to check it offline.";
    CertificateLog => "台账", "Log";
    CertificateCheckpoint => "检查点", "Checkpoint";
    CertificateHash => "证明哈希", "Certificate hash";
    CertificateEntries => "条记录", "entries";
    CertificateNone => "无", "none";
    RoleAuditor => "审计员", "auditor";
    RoleMirror => "镜像节点", "mirror";
    RoleWriter => "数据写入系统", "writer";
    AsOf => "截至日期", "As of";
    AsOfHelp => "按该日期的状态显示（默认今天，北京时间）。", "Shown as things stood on this date (default: today, Beijing time).";
    SchoolYear => "学年", "School year";
    Show => "查询", "Show";
    LedgerPosition => "台账位置：第", "Ledger position: entry";
    LedgerPositionTail => "条记录", "";
    // Errors.
    NotFoundTitle => "未找到或无权查看", "Not found or not yours";
    NotFoundBody => "该编号不存在，或不在您有权查看的学校范围内。", "There is no such id, or it is outside the schools you may see.";
    ForbiddenTitle => "无权使用此页面", "Not allowed";
    ForbiddenBody => "您的角色不能查看此页面。", "Your role may not see this page.";
    BadInputTitle => "请求有误", "Bad request";
    BadDate => "日期格式应为 YYYY-MM-DD，例如 2025-09-01。", "Dates are written YYYY-MM-DD, for example 2025-09-01.";
    BadYear => "学年应为四位年份，例如 2025（即 2025/26 学年）。", "The school year is a four-digit year, e.g. 2025 (for 2025/26).";
    BadInputBody => "请求中的参数无法处理：", "A parameter of the request cannot be used:";
    UnavailableTitle => "暂时无法服务", "Temporarily unavailable";
    UnavailableBody => "台账正在启动或维护，请稍后再试。", "The ledger is starting or under maintenance; try again shortly.";
    InternalTitle => "服务器出错", "Server error";
    InternalBody => "服务器未能完成请求，已记录日志。请稍后再试或联系管理员。", "The server could not answer; it has been logged. Try again later or ask your administrator.";
    CsrfTitle => "表单已失效", "Form no longer valid";
    CsrfBody => "该表单不是本次登录会话提交的，已拒绝。请返回页面重新操作。", "This form was not sent from your current session and was refused. Go back and try again.";
    NoSuchPage => "没有这个页面。", "There is no such page.";
    BackHome => "返回首页", "Back to home";
    // Home.
    YourSchools => "您负责的学校", "Your schools";
    FindTeacher => "按教师编号查找", "Find a teacher by id";
    FindSchool => "按学校编号查找", "Find a school by id";
    TeacherId => "教师编号", "Teacher id";
    SchoolId => "学校编号", "School id";
    Go => "查看", "Open";
    NoConsoleForRole => "您的角色在控制台中没有可查看的页面；请使用命令行或接口。", "Your role has no pages in the console; use the command line or the API.";
    // Teacher page.
    Teacher => "教师", "Teacher";
    Profile => "基本信息", "Profile";
    CityHome => "市级视图：跨区查询", "City view: across the districts";
    CityIntro => "本视图逐条核验并汇总以下各区台账的副本，按教师编号查询其在各区的交流经历与晋升资格。每一部分均来自该区台账本身，并附该区签名的检查点。", "This view keeps a verified copy of each district's ledger below and answers for a teacher across them. Every part comes from that district's own ledger, with the checkpoint the district signed.";
    CitySources => "各区台账", "The districts' ledgers";
    Origin => "台账（来源）", "Ledger (origin)";
    Address => "地址", "Address";
    Entries => "条目数", "Entries";
    CityTeacher => "跨区交流经历", "Across the districts";
    CityTotals => "全市汇总", "Across the city";
    CityTotalsHelp => "各区按本区政策认定本区记录的交流；全市汇总把各区计入的天数相加，所需天数以教师最近人事关系所在区为准。", "Each district judges the dispatches it recorded under its own policy; the city adds up the days each counts, against the requirement of the district the teacher most recently belongs to.";
    HomeDistrict => "以此区的要求为准", "Requirements of";
    Disputed => "以下计入的交流所依据的学校状态，与该校所在区台账的记录不一致：", "These counted dispatches rest on a school standing that the school's own district records differently:";
    CrossSchools => "外区接收学校核对", "Receiving schools of other districts";
    HereRecord => "本区记录", "Recorded here";
    ThereRecord => "该校所在区记录", "In its own district";
    Agreement => "核对", "Check";
    Agrees => "一致", "agree";
    Disagrees => "不一致", "disagree";
    NotThere => "该区未登记", "not registered there";
    CheckpointSize => "检查点条目数", "Checkpoint at";
    CityDays => "天数", "Days";
    Name => "姓名", "Name";
    Erased => "已删除", "erased";
    ErasedOn => "个人信息已删除", "personal data erased";
    HomeSchool => "人事关系所在学校", "Home school";
    HomeSince => "入职本校日期", "At the home school since";
    PostedAt => "当前任教学校", "Teaching at";
    Title => "职称", "Title";
    KeyLevel => "骨干级别", "Key-teacher level";
    ServingDispatch => "当前交流", "Current dispatch";
    None_ => "无", "none";
    Terms => "交流期限进度", "Term progress";
    NoDispatches => "暂无交流记录。", "No dispatches recorded.";
    Dispatch => "交流编号", "Dispatch";
    Kind => "类型", "Kind";
    FromSchool => "派出学校", "From";
    ToSchool => "接收学校", "To";
    Start => "开始日期", "Start";
    MinEnd => "最短期满日期", "Minimum term ends";
    End => "结束日期", "Ended";
    DaysServed => "已服务天数", "Days served";
    Progress => "进度", "Progress";
    Status => "状态", "Status";
    Eligibility => "晋升资格", "Promotion-credit eligibility";
    Met => "符合", "met";
    NotMet => "不符合", "not met";
    RotationCredit => "交流轮岗经历（职称、职级晋升）", "Rotation credit (title and rank promotions)";
    MinGrade => "最低考核等次", "Lowest grade allowed";
    LeadershipCredit => "学区、集团内2年交流轮岗经历（提任校级干部）", "Two years of rotation within district or group (leadership)";
    MentorCredit => "培训交流后考核优良回原校", "Returning mentor (training with a good grade)";
    SeniorTitle => "乡村或薄弱学校任教一年以上（申报高级职称）", "A year at rural or weak schools (senior title)";
    DaysRequired => "需要天数", "Days required";
    DaysMissing => "尚缺天数", "Days missing";
    ReachedMinEnd => "已满最短期限", "Minimum term reached";
    ReturnedEarly => "提前返回", "Returned early";
    Grades => "考核等次", "Grades";
    Qualifies => "计入", "Counts";
    Ended => "已结束", "Ended";
    LatestGrade => "最近考核", "Latest grade";
    Yes => "是", "yes";
    No => "否", "no";
    Timeline => "全部记录", "Every entry";
    NoEntries => "暂无记录。", "No entries.";
    Seq => "序号", "Seq";
    Effective => "生效日期", "Effective";
    Recorded => "记录时间", "Recorded";
    Event => "事项", "Event";
    Details => "内容", "Details";
    Actor => "记录人", "Recorded by";
    Hash => "哈希", "Hash";
    InEffect => "有效", "in effect";
    VoidedBy => "已被作废，作废记录", "voided by entry";
    Voids => "作废记录", "voids entry";
    // Term statuses.
    StServing => "交流中", "serving";
    StBeyond => "已满期限，继续交流", "serving beyond the minimum";
    StCompleted => "期满返回", "completed";
    StReturnedEarly => "提前返回", "returned early";
    StExempt => "（豁免）", " (exempt)";
    // School page.
    School => "学校", "School";
    DueToRotate => "应交流教师", "Due to rotate";
    DueHelp => "中级职称任职年限已达上限的教师（种子002）。", "Teachers in an intermediate-title post for the maximum years (seed 002).";
    MeetingConditions => "符合交流轮岗条件的教师", "Meeting rotation conditions";
    MeetingHelp => "在本校任教满规定年限、未在交流中、不在退休豁免期内。", "Tenure reached at the school, not on a dispatch, not close to retirement.";
    NobodyListed => "无。", "Nobody.";
    EmployedSince => "入职本校日期", "Employed since";
    TenureReached => "任教满年限日期", "Tenure reached on";
    IntermediateLimit => "中级职称满限日期", "Intermediate-title limit on";
    OnDispatch => "交流中", "On dispatch";
    Quota => "年度交流比例", "Quota for the school year";
    NoQuotaDuty => "按当时适用的政策，本校在该学年没有交流比例任务（仅优质学校或城镇学校承担）。", "Under the policy in force, this school carries no quota for that year (only strong or urban schools do).";
    EligibleCount => "符合条件教师数", "Eligible teachers";
    Required => "应交流人数", "Required outflow";
    Outflow => "已交流人数", "Outflow";
    Missing => "尚缺人数", "Still missing";
    KeyShare => "骨干教师占比", "Key-teacher share";
    KeyOutflow => "骨干教师交流人数", "Key teachers rotated";
    KeyRequired => "骨干教师应交流人数", "Key teachers required";
    EligibleList => "符合条件教师名单", "Eligible teachers";
    OutflowList => "本学年流出", "Outflow this year";
    Hosted => "在本校交流的教师", "Teachers hosted here";
    SentOut => "本校派出的教师", "Teachers sent out";
    Teams => "本校接收的交流团队", "Teams received";
    NoTeams => "无交流团队。", "No teams.";
    Team => "团队", "Team";
    Strength => "在岗人数", "Strength";
    MinTeamSize => "最少人数", "Minimum";
    Coverage => "计分科目缺少", "Scored subjects missing";
    TeamComplete => "满编", "complete";
    TeamBelow => "低于最少人数", "below minimum";
    TeamCompleted => "已完成", "completed";
    Download => "下载", "Download";
    Members => "成员", "Members";
    // Group and audit pages.
    Group => "学区或集团", "District or group";
    FindGroup => "按学区或集团编号查找", "Find a district or group by id";
    GroupId => "学区或集团编号", "District or group id";
    KindDistrict => "学区", "district";
    KindGroup => "教育集团", "education group";
    GroupTeams => "成员学校接收的交流团队", "Teams received by member schools";
    MemberSchools => "成员学校", "Member schools";
    Standing => "办学水平", "Standing";
    Lead => "牵头校", "lead";
    NoQuotaShort => "无比例任务", "no quota";
    EarlyReturns => "本学年提前返回", "Early returns this year";
    AuditTitle => "审计", "Audit";
    OpenAudit => "查看台账头部与签名检查点", "See the log's head and signed checkpoint";
    Head => "台账头部", "Head of the log";
    LogSize => "记录条数", "Entries";
    HeadHash => "最新记录哈希", "Hash of the last entry";
    MerkleRoot => "默克尔树根", "Merkle root";
    Checkpoint => "最新签名检查点", "Latest signed checkpoint";
    Witnessed => "见证方联署的检查点", "Checkpoint cosigned by witnesses";
    WitnessedHelp => "独立见证方（其他单位）核验了此检查点延续其上次联署的检查点后才联署（C2SP 联署签名）。读者可要求其中 K 个见证方：rotaledger checkpoint --cosigned K --witness-key 见证方公钥。", "Independent witnesses (other offices) cosigned this checkpoint only after checking that it extends the last one they cosigned (C2SP cosignatures). Readers can require K of them: rotaledger checkpoint --cosigned K --witness-key WITNESS-KEY.";
    Witness => "见证方", "Witness";
    CosignedAt => "联署时间", "Cosigned at";
    SameAsLatest => "即上方的最新签名检查点。", "It is the latest signed checkpoint above.";
    NoWitnessYet => "尚无见证方联署的检查点。", "No checkpoint has been cosigned by a witness yet.";
    CheckpointHelp => "签名笔记（C2SP signed-note；Ed25519 签名，国密台账为 SM2 签名）。可在下方由本浏览器核验，也可用 rotaledger audit 在您自己的电脑上核验。", "A signed note (C2SP signed-note; an Ed25519 signature, or SM2 for a national-algorithm (gm) ledger). Verify it below, in this browser, or with rotaledger audit on your own machine.";
    // The audit page's checks in the browser (audit.rs; the JavaScript gets its words from
    // these through the page).
    VerifyHeading => "在浏览器中核验", "Verify in this browser";
    VerifyIntro => "以下核验在您的浏览器中完成：本页面随程序附带 blake3、SHA-256、Ed25519 以及国密 SM3、SM2 的 JavaScript 实现（@noble/hashes、@noble/ed25519、sm-crypto-v2），自行计算每一个哈希并核验签名，不采信服务器给出的结论。签名只用您提供的公钥核验；公钥的类型（Ed25519 或 SM2）决定用哪一套算法。", "These checks run in your browser: the page carries JavaScript implementations of blake3, SHA-256, Ed25519 and the national algorithms SM3 and SM2 (@noble/hashes, @noble/ed25519, sm-crypto-v2), computes every hash itself and verifies the signature, taking no verdict from the server. The signature is checked only with the key you supply; the key's type (Ed25519 or SM2) decides which algorithms are used.";
    VerifyKeyWhy => "公钥必须来自服务器以外的渠道：教育局的书面通知或公告，或台账管理员在服务器上运行 rotaledger audit public-key 得到的一行。从同一台服务器取得的公钥证明不了任何事：服务器可以用它自己的任何密钥签出任何内容。", "The key must come from somewhere other than this server: the bureau's letter or published notice, or the line the ledger's operator gets from rotaledger audit public-key. A key fetched from the same server proves nothing: the server can sign anything with any key of its own.";
    VerifierKeyLabel => "公钥（验证密钥，一行：名称+密钥编号+base64）", "Verifier key (one line: name+key id+base64)";
    VerifierKeyHelp => "公钥保存在本浏览器中，下次打开本页时自动填入。", "The key is remembered in this browser and filled in next time.";
    UseServerKey => "填入本服务器提供的公钥", "Fill in the key this server sends";
    ServerKeyWarning => "已填入本服务器自己提供的公钥。用它核验本服务器的签名什么也证明不了；请换成从其他渠道得到的公钥。", "This is the key the server itself sends. Checking the server's signature with it proves nothing; replace it with a key you got elsewhere.";
    AdvancedNote => "高级：核验粘贴的检查点", "Advanced: check a pasted checkpoint";
    AdvancedNoteHelp => "在此粘贴一份签名检查点（例如以前保存的一份），核验就针对它进行；留空则核验服务器的最新检查点。", "Paste a signed checkpoint here (one you kept earlier, say) to check it instead; leave it empty to check the server's latest.";
    CheckSignature => "核验签名", "Check the signature";
    InclusionHeading => "核验某条记录已被收录", "Check that an entry is in the log";
    InclusionHelp => "输入记录序号：本页取得该记录的原始内容和收录证明，由记录内容算出哈希，沿证明算到树根，再与已核验签名的检查点中的树根比较。", "Enter an entry's sequence number: the page fetches the entry's stored bytes and its inclusion proof, hashes the entry itself, walks the proof up to a root, and compares that with the root in the checkpoint whose signature it verified.";
    EntrySeqLabel => "记录序号", "Entry sequence number";
    CheckInclusion => "核验收录", "Check inclusion";
    NeedsScript => "此核验需要浏览器启用 JavaScript。", "These checks need JavaScript enabled in the browser.";
    VerifyPass => "通过", "Passed";
    VerifyFail => "未通过", "Failed";
    VerifyColon => "：", ": ";
    VerifyRunning => "正在核验……", "Checking…";
    VerifySignaturePass => "检查点的签名用这把公钥核验成立。以下日志名称、记录条数、树根和时间取自已核验的签名内容。", "The checkpoint's signature verifies with this key. The origin, size, root and time below are read from the verified signed text.";
    VerifyInclusionPass => "第 {seq} 条记录包含在已签名的 {size} 条记录中：由记录内容算出的哈希沿证明得到的树根，与已核验检查点中的树根相同。", "Entry {seq} is one of the {size} signed entries: the hash of the entry's own bytes, walked up the proof, gives the root of the verified checkpoint.";
    VerifyKeyUsed => "所用公钥", "Key used";
    VerifyKeyPasted => "（您提供的公钥）", " (the key you supplied)";
    VerifyKeyFromServer => "（本服务器提供的公钥，不能证明任何事）", " (the key this server sent: proves nothing)";
    VerifyCheckpointUsed => "所核验的检查点", "Checkpoint checked";
    VerifyNoteServer => "服务器的最新检查点", "the server's latest checkpoint";
    VerifyNotePasted => "粘贴的检查点", "the pasted checkpoint";
    VerifyOrigin => "日志名称", "Origin";
    VerifyTime => "签名时间", "Signed at";
    VerifyEntryHash => "记录哈希（本页计算）", "Entry hash (computed here)";
    VerifyEntryHashStated => "服务器给出的记录哈希", "Entry hash the server sent";
    VerifyLeafHash => "叶子哈希（本页计算）", "Leaf hash (computed here)";
    VerifyRootComputed => "由证明算出的树根", "Root computed from the proof";
    VerifyRootSigned => "已签名检查点中的树根", "Root in the signed checkpoint";
    VerifyEntryBody => "记录内容（原始字节）", "Entry body (stored bytes)";
    VerifyKeyIdStated => "公钥中写明的密钥编号", "Key id written in the key";
    VerifyKeyIdComputed => "由名称和公钥算出的密钥编号", "Key id computed from the name and key";
    VerifySignaturesPresent => "检查点上的签名", "Signatures on the checkpoint";
    VerifyTechnical => "技术细节", "Technical detail";
    VerifyProfile => "密码算法", "Algorithms";
    VerifyProfileBlake3 => "Ed25519 签名，blake3 哈希", "Ed25519 signatures, blake3 hashes";
    VerifyProfileGm => "国密：SM2 签名，SM3 哈希", "national algorithms (gm): SM2 signatures, SM3 hashes";
    WhyNoKey => "请先填写公钥。", "Enter a verifier key first.";
    WhyKeyMalformed => "公钥格式不对：应为一行「名称+密钥编号+base64」。", "The key is malformed: it is one line, name+key id+base64.";
    WhyKeyUnsupported => "公钥类型 {type} 不受支持：只支持 Ed25519（0x01）和 SM2（0xff）公钥。", "The key's type {type} is not supported: only Ed25519 (0x01) and SM2 (0xff) keys are.";
    WhyKeyInvalidPoint => "公钥的字节不是有效的 {alg} 公钥（Ed25519 为 32 字节，SM2 为 65 字节的未压缩点 04||x||y）。", "The key's bytes are not a valid {alg} public key (Ed25519: 32 bytes; SM2: the 65-byte uncompressed point 04||x||y).";
    WhyKeyIdMismatch => "公钥中的密钥编号与其名称和公钥不符：公钥被改动过或抄错了。", "The key id in the key does not match its name and public key: the key was altered or mistyped.";
    WhyNoteMalformed => "检查点不是格式正确的签名笔记（docs/FORMAT.md §2.5）。", "The checkpoint is not a well-formed signed note (docs/FORMAT.md §2.5).";
    WhyNoSignature => "检查点上没有这把公钥的签名。", "The checkpoint carries no signature by this key.";
    WhyKeyIdDiffers => "检查点上有同名签名者，但密钥编号不同：签名不是用这把公钥做的。", "A signer of the same name signed the checkpoint, but under a different key id: the signature was not made with this key.";
    WhyBadSignature => "签名不成立：检查点内容或签名被改动过，或签名所用的私钥与这把公钥不对应。", "The signature does not verify: the checkpoint or its signature was altered, or it was signed with a private key that is not this key's.";
    WhyCheckpointUnverified => "检查点的签名未通过核验，因此没有核验收录。", "The checkpoint's signature did not verify, so no inclusion was checked.";
    WhyBadSeq => "记录序号应为从 0 起的整数。", "The sequence number must be a whole number from 0.";
    WhySeqOutOfRange => "第 {seq} 条记录不在已签名的 {size} 条记录之内。", "Entry {seq} is not among the {size} signed entries.";
    WhyEntryMissing => "服务器没有给出第 {seq} 条记录。", "The server sent no entry {seq}.";
    WhyEntrySeqDiffers => "服务器给出的记录不是所请求的第 {seq} 条。", "The entry the server sent is not entry {seq}.";
    WhyEntryMalformed => "服务器给出的记录格式不对。", "The entry the server sent is malformed.";
    WhyEntryHashDiffers => "由记录内容算出的哈希与服务器给出的哈希不同：记录内容被改动过。", "The hash of the entry's bytes differs from the hash the server sent: the entry was altered.";
    WhyProofMalformed => "收录证明的格式不对。", "The inclusion proof is malformed.";
    WhyProofTooLarge => "收录证明超过 64 个哈希，不可能成立。", "The inclusion proof has more than 64 hashes, more than any proof can have.";
    WhyIndexOutOfRange => "记录序号超出检查点的记录条数。", "The sequence number is past the checkpoint's size.";
    WhyProofTooLong => "收录证明过长：证明用完之前已到达树根。", "The proof is too long: it reaches the root before it ends.";
    WhyProofTooShort => "收录证明过短：证明用完时尚未到达树根。", "The proof is too short: it ends before the root.";
    WhyRootMismatch => "由证明算出的树根与已核验检查点中的树根不同：该记录不在签名的日志中，或记录、证明被改动过。", "The proof leads to another root than the verified checkpoint's: the entry is not in the signed log, or the entry or the proof was altered.";
    WhyProfileUnsupported => "未知的密码算法配置「{profile}」：只支持 blake3 和 gm。", "Unknown crypto profile \"{profile}\": only blake3 and gm are known.";
    WhyFetchFailed => "无法从服务器取得数据：{detail}", "Could not get the data from the server: {detail}";
    WhyInternal => "核验未能进行：{detail}", "The check could not run: {detail}";
    Hidden => "（另有成员不在您的范围内）", " (more members outside your scope)";
    // District page, evaluations owed, recorded_up_to.
    DistrictTitle => "全区交流轮岗概览", "District overview";
    OpenDistrict => "查看全区概览（各校交流比例、各学年交流人数、低于最少人数的团队）", "See the district overview (quotas, outflow by year, teams below strength)";
    SchoolsCount => "学校数", "Schools";
    SchoolsWithDuty => "承担交流比例任务", "Carrying a quota";
    SchoolsMet => "已完成", "Met";
    SchoolsDue => "尚未完成（学年进行中）", "Due (year running)";
    SchoolsShort => "未完成（学年已结束）", "Short (year ended)";
    QuotaStatusHead => "比例完成情况", "Quota status";
    QuotaDue => "尚未完成", "due";
    QuotaShort => "未完成", "short";
    ShortfallHead => "，尚缺 ", ", missing ";
    ShortfallTail => " 人", " teacher(s)";
    QuotaStatusHelp => "学校和学区、集团成员均按9月1日认定。交流人数达到应交流人数即为“已完成”；未达到时，学年（至次年8月31日）未结束为“尚未完成”，已结束为“未完成”。", "Schools and members are taken on 1 September. A school is met once its outflow reaches the requirement; short of it, it is due while the year runs (to 31 August) and short once the year has ended.";
    GroupsList => "学区与教育集团", "Districts and education groups";
    NoGroups => "尚未组建学区或集团。", "No districts or groups formed.";
    MemberCount => "成员学校数", "Member schools";
    SchoolName => "学校名称", "School name";
    GroupName => "名称", "Name";
    SchoolsList => "各校交流比例完成情况", "Schools and their quotas";
    TeamsBelow => "低于最少人数的交流团队", "Teams below strength";
    TeamsBelowHelp => "在团队服务期内因提前返回，在岗人数低于政策规定最少人数的团队。期满后人数减少不计入。", "Teams with fewer members serving than the policy's minimum after an early return within the team's term. Teams that served their term out are not listed.";
    TeamsBelowCount => "低于最少人数的团队", "Teams below strength";
    NoTeamsBelow => "没有低于最少人数的团队。", "No team is below strength.";
    BelowSince => "低于最少人数起始日期", "Below minimum since";
    ChartTitle => "各学年交流轮岗人数", "Rotation outflow by school year";
    ChartXAxis => "学年", "School year";
    ChartYAxis => "人数", "Teachers";
    ChartLegendOutflow => "已交流人数（全区交流轮岗派出）", "Outflow (rotation dispatches, all schools)";
    ChartLegendRequired => "应交流人数（承担任务学校合计）", "Required (schools with a quota)";
    ChartHelp => "柱形为当学年开始的交流轮岗派出人数（截至所选日期）；红线为当学年承担交流比例任务学校的应交流人数合计。", "Bars: rotation dispatches starting in the year (up to the date shown); red marks: the required outflow summed over the schools carrying a quota that year.";
    RequiredTotal => "应交流人数合计", "Required (total)";
    OwedTitle => "本校尚欠的考核", "Evaluations this school still owes";
    OwedHelp => "作为接收学校，对在本校交流的教师，每个已结束且与交流期重叠的学年都应做一次考核（流入校负责绩效考核）。缺少考核可能影响教师的晋升资格。", "As receiving school, this school grades each teacher it hosts once for every ended school year that overlaps the dispatch. A missing grade can cost the teacher promotion credit.";
    NoneOwed => "没有尚欠的考核。", "Nothing owed.";
    YearEndedOn => "学年结束日期", "Year ended on";
    RecordedUpToHead => "按第 ", "As the ledger stood after its first ";
    RecordedUpToTail => " 条记录时的账本显示：此后记入的内容不计入本页。", " entries: anything recorded later is left out of this page.";
    RecordedUpToCurrent => "查看当前账本", "See the current ledger";
    // Spreadsheets in (/sheets).
    SheetsTitle => "表格导入", "Load spreadsheets";
    SheetsHelp => "上传教育局的表格（xlsx、xls、ods，或 UTF-8 / GB18030 编码的 CSV），逐行按台账规则检查，不写入台账；检查后可导入通过的行。重复导入同一表格不会重复写入。",
        "Upload a bureau sheet (xlsx, xls, ods, or CSV in UTF-8 or GB18030): every row is checked against the ledger's rules without appending; then the rows that pass can be loaded. Loading the same sheet again appends nothing.";
    SheetKind => "表格类型", "Kind of sheet";
    SheetFile => "表格文件", "Sheet file";
    CheckSheet => "检查", "Check";
    LoadPassing => "导入通过的行", "Load the rows that pass";
    KindRoster => "教师花名册", "Teacher roster";
    KindDispatches => "交流轮岗名单", "Rotation list";
    KindReturns => "返回名单", "Returns";
    KindEvaluations => "考核结果", "Evaluations";
    KindPromotions => "晋升名单", "Promotions";
    RowsTotal => "数据行", "Rows";
    RowsPassed => "通过", "Pass";
    RowsAppended => "已导入", "Appended";
    RowsPresent => "已存在", "Already present";
    RowsRefused => "拒绝", "Refused";
    RowsWarnings => "警告", "Warnings";
    ColRow => "行", "Row";
    ColColumn => "列", "Column";
    ColRule => "规则", "Rule";
    ColMessage => "说明", "Message";
    NoRefusals => "没有被拒绝的行。", "No row was refused.";
    NoWarnings => "没有警告。", "No warnings.";
    AnotherSheet => "检查另一个表格", "Check another sheet";
    CheckedTitle => "检查结果（未写入台账）", "Check results (nothing appended)";
    LoadedTitle => "导入结果", "Load results";
    UploadExpired => "上传的表格已过期或已导入，请重新选择文件。", "The uploaded sheet has expired or was already loaded; choose the file again.";
    SheetUnreadable => "无法读取该表格", "The sheet cannot be read";
    OpenSheets => "表格导入（花名册、交流轮岗名单等）", "Load spreadsheets (rosters, rotation lists, ...)";
}

/// The ledger's vocabulary values (titles, key levels, dispatch kinds, grades, return
/// reasons, event types, standings) as people read them: value, Chinese, English.
const VOCABULARY: &[(&str, &str, &str)] = &[
    ("none", "无", "none"),
    ("junior", "初级", "junior"),
    ("intermediate", "中级", "intermediate"),
    ("senior", "高级", "senior"),
    ("full_senior", "正高级", "full senior"),
    ("school", "校级骨干", "school key teacher"),
    ("district", "区级骨干", "district key teacher"),
    ("city", "市级骨干", "city key teacher"),
    ("province", "省级骨干", "provincial key teacher"),
    ("national", "国家级骨干", "national key teacher"),
    ("rotation", "交流轮岗", "rotation"),
    ("support", "支教", "support"),
    ("training", "跟岗培训", "training"),
    ("term_completed", "期满", "term completed"),
    ("health", "健康原因", "health"),
    ("family_hardship", "家庭困难", "family hardship"),
    ("school_closure", "学校撤并", "school closure"),
    ("disciplinary", "纪律处分", "disciplinary"),
    ("other", "其他", "other"),
    ("fail", "不合格", "fail"),
    ("basic_pass", "基本合格", "basic pass"),
    ("pass", "合格", "pass"),
    ("good", "良好", "good"),
    ("excellent", "优秀", "excellent"),
    ("strong", "优质校", "strong"),
    ("ordinary", "普通校", "ordinary"),
    ("weak", "薄弱校", "weak"),
    ("title", "职称晋升", "title"),
    ("rank", "职级晋升", "rank"),
    ("leadership", "提任干部", "leadership"),
    ("teacher_registered", "教师登记", "registered"),
    ("teacher_dispatched", "派出交流", "dispatched"),
    ("teacher_evaluated", "考核", "evaluated"),
    ("teacher_returned", "交流返回", "returned"),
    ("teacher_promoted", "晋升", "promoted"),
    ("entry_voided", "作废", "voided"),
    ("teacher_profile_updated", "信息更新", "profile updated"),
    ("teacher_transferred", "调动", "transferred"),
    ("teacher_moved", "调动", "moved"),
];

/// A vocabulary value in `lang` (the value itself when the catalogue does not know it).
pub fn vocab(lang: Lang, value: &str) -> &str {
    VOCABULARY
        .iter()
        .find(|(v, _, _)| *v == value)
        .map_or(value, |(_, zh, en)| match lang {
            Lang::Zh => zh,
            Lang::En => en,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message has a text in both languages (an empty English tail is allowed only
    /// where Chinese grammar needs a word English does not).
    #[test]
    fn every_message_has_both_languages() {
        for m in ALL {
            assert!(!m.t(Lang::Zh).is_empty(), "{m:?} has no Chinese text");
            if *m != M::LedgerPositionTail {
                assert!(!m.t(Lang::En).is_empty(), "{m:?} has no English text");
            }
        }
    }
}
