//! The console's languages: Chinese (the default) and English. Pages are written with their
//! English texts, which are the keys of the Chinese table; a test checks that every text the
//! templates and pages use has its Chinese. Numbers: Chinese shows large counts and amounts in
//! 万, English groups digits by thousands.

use std::collections::HashMap;
use std::sync::LazyLock;

use huifang_core::Money;

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `en` is English; anything else is Chinese.
    pub fn parse(code: &str) -> Lang {
        if code == "en" { Lang::En } else { Lang::Zh }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// A text in this language (the English text is the key; a text without Chinese is shown
    /// in English).
    pub fn t(self, en: &str) -> &str {
        match self {
            Lang::En => en,
            Lang::Zh => ZH.get(en).copied().unwrap_or(en),
        }
    }
}

static ZH: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| TABLE.iter().copied().collect());

/// Whether a text has its Chinese (for the test of the templates).
#[cfg(test)]
fn has_chinese(en: &str) -> bool {
    ZH.contains_key(en)
}

/// Groups the digits of a whole number by thousands: 1234567 → "1,234,567".
fn grouped(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `value / unit` with two decimals, rounded half up (away from zero) from the exact ratio.
fn hundredths(value: i128, unit: i128) -> String {
    let scaled = (value.abs() * 200 + unit) / (2 * unit);
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", grouped(scaled / 100), scaled % 100)
}

/// A count: Chinese shows 10万 and more in 万 (two decimals), English groups by thousands.
pub fn count(lang: Lang, n: i64) -> String {
    let n = i128::from(n);
    match lang {
        Lang::Zh if n.abs() >= 100_000 => format!("{}万", hundredths(n, 10_000)),
        _ => grouped(n),
    }
}

/// An amount of money given as its decimal text ("1234567.89"): Chinese shows 100万 yuan and
/// more in 万 (two decimals, half up from the exact fen), English groups by thousands.
pub fn money(lang: Lang, amount: &str) -> String {
    let Ok(m) = Money::parse(amount) else {
        return amount.to_string();
    };
    let fen = i128::from(m.fen());
    match lang {
        Lang::Zh if fen.abs() >= 100_000_000 => format!("{}万", hundredths(fen, 1_000_000)),
        _ => hundredths(fen, 100),
    }
}

/// The Chinese of every English text of the console.
const TABLE: &[(&str, &str)] = &[
    (
        "(computed again at most every 30 seconds)",
        "（最多每 30 秒重新计算一次）",
    ),
    (
        "The earliest due tasks of this view are listed; take the next task or filter by kind for the others.",
        "此视图只列出最早到期的任务；其余任务请领取下一个或按类型筛选。",
    ),
    ("Preview the schedule", "预览还款计划"),
    (
        "The schedule after this decision (nothing is recorded yet)",
        "执行此决定后的还款计划（尚未记录）",
    ),
    ("Cases", "资产保全与诉讼"),
    ("Case", "案件"),
    ("The case is opened.", "案件已立案。"),
    ("The step is recorded.", "进展已记录。"),
    ("Open cases", "未结案件"),
    ("Stage", "阶段"),
    ("Opened", "立案"),
    ("Closed", "结案"),
    ("Steps", "进展"),
    ("By", "经办人"),
    ("Record a step", "记录进展"),
    (
        "Amount collected (sale, enforcement)",
        "回收金额（拍卖、执行）",
    ),
    (
        "Value date (default: the business date)",
        "起息日（默认业务日期）",
    ),
    ("Open a case", "立案"),
    ("repossession", "车辆收回"),
    ("legal", "诉讼"),
    ("assigned", "已委派"),
    ("located", "已找到车辆"),
    ("recovered", "已收回"),
    ("sold", "已处置"),
    ("filed", "已起诉"),
    ("judgment", "已判决"),
    ("enforcement", "执行中"),
    ("closed", "已结案"),
    ("Follow-up tasks", "回访任务"),
    ("Promises to pay", "承诺还款"),
    ("Promised on", "承诺日"),
    ("Documents", "文件"),
    ("Registered", "登记日"),
    ("Size", "大小"),
    ("Ledger proof", "存证证明"),
    ("hashes", "个哈希"),
    ("kept", "已兑现"),
    ("awaiting", "待兑现"),
    ("broken", "未兑现"),
    ("Settings", "系统设置"),
    ("The settings are saved.", "设置已保存。"),
    (
        "Servicing policy (buckets, classification, reminders, decision limits)",
        "贷后政策（逾期阶段、五级分类、提醒、决定权限）",
    ),
    ("Warning rules", "预警规则"),
    ("Contact rules", "联系规则"),
    ("Notification rules", "通知规则"),
    (
        "Follow-up assistant (flows, share, asks, wait)",
        "智能回访（流程、比例、询问次数、等待时间）",
    ),
    ("Follow-up plan (every product)", "回访计划（所有产品）"),
    ("Message templates", "消息模板"),
    ("Servers and workers", "服务器与作业进程"),
    ("Kind", "类型"),
    ("Host", "主机"),
    ("Last heartbeat", "最近心跳"),
    ("Doing", "当前工作"),
    ("gone", "已失联"),
    ("Latest close shared by workers", "最近一次多进程日终"),
    ("chunks planned", "个分块已计划"),
    (
        "No close has been shared by workers yet.",
        "尚无多进程日终。",
    ),
    ("Save", "保存"),
    ("Subject", "主题"),
    ("Body", "正文"),
    ("Fields", "可用字段"),
    (
        "Each document is checked as the command line checks it; a refused one is not saved.",
        "每份文档按命令行的规则校验；未通过的不会保存。",
    ),
    ("Quality review", "质检"),
    ("The review is recorded.", "质检结果已记录。"),
    ("Only contacts without a review", "只看未质检的联系"),
    ("Score (0–100)", "评分（0–100）"),
    ("Comment", "评语"),
    ("Review", "质检"),
    ("Reviewed by", "质检人"),
    ("Older", "更早"),
    ("Duration", "时长"),
    (
        "Reason to reveal the ID number and mobile (logged)",
        "查看完整身份证号和手机号的原因（将被记录）",
    ),
    ("Reveal", "查看"),
    ("A reveal needs its reason.", "查看须填写原因。"),
    (
        "Above the four-eyes amount a decision waits for a second risk officer's approval.",
        "超过双人复核金额的决定须由另一位风控专员批准后生效。",
    ),
    ("Acknowledge", "确认"),
    ("Active loans", "在贷笔数"),
    ("Agent", "坐席"),
    ("Agents", "坐席"),
    ("All", "全部"),
    ("All kinds", "全部类型"),
    ("Amount", "金额"),
    ("Annual rate", "年利率"),
    ("Apply", "执行"),
    ("Approve", "批准"),
    ("Asked by", "申请人"),
    ("Assignee", "处理人"),
    ("Attempts", "尝试次数"),
    ("Balance", "余额"),
    ("Balance by bucket", "各逾期阶段余额"),
    ("Balance by classification", "五级分类余额"),
    ("Balance by warning level", "各预警等级余额"),
    ("Borrower", "借款人"),
    ("Bucket", "逾期阶段"),
    ("Business date", "业务日期"),
    ("Call length (minutes)", "通话时长（分钟）"),
    ("Cause", "原因"),
    ("Change", "变更"),
    ("Channel", "渠道"),
    ("Check", "核验"),
    ("Check a document", "核验文件"),
    ("Checkpoints", "检查点"),
    ("City", "城市"),
    ("Classification", "五级分类"),
    ("Classification floor (classify)", "分类下限（调整分类）"),
    ("Cleared", "解除"),
    ("Contacts", "联系记录"),
    ("Create", "创建"),
    ("Dashboard", "资产概览"),
    ("Date", "日期"),
    ("Days past due", "逾期天数"),
    ("Dealer", "经销商"),
    ("Decide", "提交决定"),
    ("Decide on the loan", "对贷款作出决定"),
    ("Decision", "决定"),
    ("Decisions and operations", "决定与操作"),
    ("Decisions on this loan", "本笔贷款的决定"),
    ("Disable", "停用"),
    ("Disbursed on", "放款日"),
    ("Done", "已完成"),
    ("Done.", "已完成。"),
    ("Due", "到期日"),
    ("Due date", "到期日"),
    ("Due date, latest first", "到期日（最近在前）"),
    ("Due today", "今日到期"),
    ("Earlier contacts", "历史联系"),
    ("Effective", "生效日"),
    (
        "Effective date (default: the business date)",
        "生效日期（默认业务日期）",
    ),
    ("Enable", "启用"),
    ("End sessions", "结束会话"),
    ("File", "文件"),
    ("Filter", "筛选"),
    ("History", "处理记录"),
    ("ID number", "身份证号"),
    ("Inclusion proof of a record", "记录的包含证明"),
    ("Income change (%)", "收入变化（%）"),
    ("Index in the log", "日志序号"),
    ("Interest", "利息"),
    ("Job status", "工作状况"),
    ("Kind", "类型"),
    ("Latest checkpoint", "最新检查点"),
    ("Leaf hash", "叶哈希"),
    ("Ledger", "存证日志"),
    ("Level", "等级"),
    ("Levels", "等级"),
    ("Lifecycle", "生命周期"),
    ("Loan", "贷款"),
    ("Loan number", "贷款编号"),
    ("Loans", "贷款"),
    ("Menu", "菜单"),
    ("Mobile", "手机号"),
    (
        "Months (deferral, payment holiday)",
        "月数（延期、还款假期）",
    ),
    ("My queue", "我的队列"),
    ("Name", "姓名"),
    (
        "New annual rate (restructure, e.g. 0.06)",
        "新年利率（重组，如 0.06）",
    ),
    ("New password", "新密码"),
    ("New term in months (restructure)", "新期限（月，重组）"),
    ("New user", "新建用户"),
    ("Next", "下一页"),
    ("No", "否"),
    ("No loan in this view.", "此视图中没有贷款。"),
    ("No open warning.", "没有未关闭的预警。"),
    ("No rule holds since", "规则不再成立自"),
    ("No task in this view.", "此视图中没有任务。"),
    ("None yet.", "暂无。"),
    (
        "Not registered: no document has these bytes.",
        "未登记：没有与此内容相同的文件。",
    ),
    ("Note", "备注"),
    ("Notes", "备注"),
    ("Open", "打开"),
    ("Open tasks", "未完成任务"),
    ("Operation", "操作"),
    ("Outcome", "结果"),
    ("Outstanding principal", "剩余本金"),
    ("Overdue", "已逾期"),
    ("Overdue amount", "逾期金额"),
    ("Overdue loans", "逾期笔数"),
    ("Overdue rate (balance)", "逾期率（余额）"),
    ("Overdue rate (loans)", "逾期率（笔数）"),
    ("Pages", "分页"),
    ("Paid off", "结清日"),
    ("Paid on", "还款日"),
    ("Password", "密码"),
    ("Payments", "还款记录"),
    ("Penalty paid", "已付罚息"),
    (
        "Post-loan management: follow-up, collection, early warning and a tamper-evident record.",
        "贷后管理：回访、催收、预警与防篡改存证。",
    ),
    ("Posted on", "入账日"),
    ("Previous", "上一页"),
    ("Principal", "本金"),
    ("Problems found", "发现的问题"),
    ("Product", "产品"),
    ("Promised amount (yuan)", "承诺金额（元）"),
    ("Promised date", "承诺日期"),
    ("Promises", "承诺还款"),
    ("Queue", "队列"),
    ("Queue depth", "队列深度"),
    ("Raised", "触发日"),
    ("Reached", "接通"),
    ("Reason", "原因"),
    ("Reassign", "改派"),
    ("Reassign to", "改派给"),
    (
        "Recomputes every record's leaf, the tree and every checkpoint's signature.",
        "重新计算每条记录的叶、整棵树以及每个检查点的签名。",
    ),
    ("Record", "记录"),
    ("Record an action", "记录处置"),
    ("Record the outcome", "记录结果"),
    ("Records checked", "已核对记录"),
    ("Records in the log", "日志记录数"),
    ("Registered in the log.", "已在日志中登记。"),
    ("Repayment account", "还款账户"),
    ("Repayment method (restructure)", "还款方式（重组）"),
    ("Resolve", "解除"),
    (
        "Reveal ID number and mobile (logged)",
        "查看完整身份证号和手机号（将被记录）",
    ),
    ("Revoke API token", "吊销 API 令牌"),
    ("Role", "角色"),
    ("Root hash", "根哈希"),
    ("Rule", "规则"),
    (
        "SLA breaches (open past their due date)",
        "超时任务（过期未完成）",
    ),
    ("Schedule", "还款计划"),
    ("Script", "话术问卷"),
    ("Search", "搜索"),
    ("Set password", "重设密码"),
    ("Settles today with", "今日结清金额"),
    ("Share of balance", "余额占比"),
    ("Show the proof", "显示证明"),
    ("Sign in", "登录"),
    ("Sign out", "退出"),
    ("Skills", "技能"),
    ("Skills (comma-separated)", "技能（逗号分隔）"),
    ("Sort by", "排序"),
    ("State", "状态"),
    ("Status", "状态"),
    ("Status history", "状态历史"),
    ("Take the next task", "领取下一个任务"),
    ("Task", "任务"),
    ("Task number (optional)", "任务编号（可选）"),
    ("Tasks", "任务数"),
    ("Team", "团队"),
    ("Term", "期限"),
    ("The account is changed.", "账户已变更。"),
    ("The action is recorded.", "处置已记录。"),
    (
        "The decision is approved and applied.",
        "决定已批准并生效。",
    ),
    ("The decision is recorded.", "决定已记录。"),
    ("The index must be a whole number.", "序号必须是整数。"),
    ("The log has no checkpoint yet.", "日志尚无检查点。"),
    ("The log is intact.", "日志完整无误。"),
    ("The outcome is recorded.", "结果已记录。"),
    ("The signed checkpoint", "签名检查点"),
    ("The task is reassigned.", "任务已改派。"),
    ("The user is created.", "用户已创建。"),
    ("The warning is acknowledged.", "预警已确认。"),
    ("The warning is resolved.", "预警已解除。"),
    ("There is no task to take now.", "目前没有可领取的任务。"),
    ("Tree size", "树大小"),
    ("Username", "用户名"),
    ("Users", "用户管理"),
    ("No team in this view.", "此视图中没有团队。"),
    ("Team name", "团队名称"),
    ("Queue name", "队列名称"),
    ("Product name", "产品名称"),
    ("Non-performing share (balance)", "不良占比（余额）"),
    (
        "Warning level 2–3 share (balance)",
        "二、三级预警占比（余额）",
    ),
    (
        "The last 90 closed days and today",
        "近 90 个已日终日及今日",
    ),
    (
        "The 30-day rates and the month-end trend as of",
        "近 30 日比率与月末趋势的计算时间",
    ),
    ("Teams and queues", "团队与队列"),
    ("Products", "产品"),
    ("Scripts", "话术问卷"),
    ("Follow-up plan", "回访方案"),
    ("Default plan", "默认方案"),
    ("Code", "代码"),
    ("Edit", "编辑"),
    ("Grace days", "宽限天数"),
    ("Penalty rate markup", "罚息上浮比例"),
    ("New product", "新建产品"),
    ("New queue", "新建队列"),
    ("New team", "新建团队"),
    ("No queue yet.", "尚无队列。"),
    ("Rename", "重命名"),
    ("Role, team and skills", "角色、团队与技能"),
    ("Skill", "技能"),
    ("Strategy", "分配策略"),
    ("its own", "本产品专用"),
    ("the default", "默认"),
    ("members", "名成员"),
    ("round_robin", "轮流分配"),
    ("least_loaded", "最少任务优先"),
    ("sticky", "原坐席优先"),
    (
        "A new role or team ends the user's sessions and gives the tasks they hold back to their queues.",
        "更换角色或团队会结束该用户的会话，其持有的任务退回所属队列。",
    ),
    (
        "A product without a plan of its own follows the default plan (*). Fields left out take the default plan's values. New tasks follow it from the next close.",
        "没有专用方案的产品沿用默认方案（*）。未填写的字段取默认方案的值。新任务自下一次日终起按此生成。",
    ),
    (
        "A product's terms are part of its loans' contracts: a product is added, not changed. Its follow-up plan may be changed at any time.",
        "产品条款是其贷款合同的一部分：产品只能新增，不能修改。其回访方案可随时调整。",
    ),
    (
        "A team's code stays: users, queues and plans name it. A queue's tasks go to the team's users who have its skill, by its strategy.",
        "团队代码不可更改：用户、队列和方案都引用它。队列的任务按分配策略派给本团队中具备该技能的用户。",
    ),
    (
        "The questions agents ask, in order: id, text, answer (yes_no, choice, number, money, date, text), the options of a choice, and the risk signal an answer raises. Tasks show it from now on; answers already recorded stay as they are.",
        "坐席依次提问的问题：id、题目、答案类型（yes_no、choice、number、money、date、text）、选择题的选项，以及答案触发的风险信号。保存后任务即按新话术显示；已记录的答案保持不变。",
    ),
    ("Vehicle", "车辆"),
    ("Vehicle status", "车辆状况"),
    ("Verify now", "立即验证"),
    ("Verify the log", "验证日志"),
    ("Views", "视图"),
    ("Warning", "预警"),
    ("Warning level", "预警等级"),
    ("Warnings", "预警"),
    ("What fired it", "触发事实"),
    ("Yes", "是"),
    (
        "No record at this index in the latest checkpoint.",
        "最新检查点中没有此序号的记录。",
    ),
    ("Wrong username or password.", "用户名或密码错误。"),
    (
        "Too many failed sign-ins of this username: try again later.",
        "该用户名登录失败次数过多，请稍后再试。",
    ),
    ("acknowledged", "已确认"),
    ("actioned", "已处置"),
    ("active", "正常"),
    ("disabled", "已停用"),
    ("escalated", "已升级"),
    ("raised", "新触发"),
    ("resolved", "已解除"),
    ("annuity", "等额本息"),
    ("equal_principal", "等额本金"),
    ("normal", "正常"),
    ("special_mention", "关注"),
    ("substandard", "次级"),
    ("doubtful", "可疑"),
    ("loss", "损失"),
    ("leaf does not match", "叶不一致"),
    ("leaf matches", "叶一致"),
    ("rows", "行"),
    ("open", "待领取"),
    ("assigned", "已分配"),
    ("in_progress", "处理中"),
    ("rescheduled", "已改期"),
    ("done", "已完成"),
    ("failed", "失败"),
    ("cancelled", "已取消"),
    ("welcome_call", "欢迎回访"),
    ("initial_followup", "首次回访"),
    ("continuous_followup", "持续回访"),
    ("repayment_reminder", "还款提醒"),
    ("overdue_reminder", "逾期提醒"),
    ("collection_call", "催收电话"),
    ("field_visit", "上门走访"),
    ("escalation", "升级处理"),
    ("warning_review", "预警复核"),
    ("reached", "已接通"),
    ("promise_to_pay", "承诺还款"),
    ("no_answer", "无人接听"),
    ("wrong_number", "号码错误"),
    ("refused", "拒绝沟通"),
    ("dispute", "有异议"),
    ("hardship_reported", "经济困难"),
    ("vehicle_status", "车辆情况"),
    ("phone", "电话"),
    ("sms", "短信"),
    ("wechat", "微信"),
    ("email", "邮件"),
    ("visit", "上门"),
    ("defer", "延期"),
    ("payment_holiday", "还款假期"),
    ("restructure", "重组"),
    ("early_settlement", "提前结清"),
    ("acceleration", "加速到期"),
    ("write_off", "核销"),
    ("classify", "调整分类"),
    ("pending", "待批准"),
    ("applied", "已生效"),
    ("paid_off", "已结清"),
    ("written_off", "已核销"),
    ("action_taken", "已处置"),
    ("auto_resolved", "自动解除"),
    ("condition_false", "条件不再成立"),
    ("condition_holds", "条件仍成立"),
    ("interaction", "联系记录"),
    ("warning", "预警"),
    ("decision", "决定"),
    ("document", "文件"),
    ("warning_step", "预警处理"),
    ("income_proof", "收入证明"),
    ("contract", "合同"),
    ("id_scan", "身份证扫描件"),
    ("other", "其他"),
    ("agent", "回访坐席"),
    ("collector", "催收员"),
    ("team_lead", "组长"),
    ("risk_officer", "风控专员"),
    ("auditor", "审计"),
    ("admin", "管理员"),
    ("Reports", "报表"),
    ("Delinquency", "逾期与五级分类"),
    ("Roll rates", "迁徙率"),
    ("Vintage curves", "账龄分析"),
    ("Collection and contact", "催收与联系"),
    ("Warning quality", "预警质量"),
    ("From", "起"),
    ("To (or as of)", "止(或截至)"),
    ("Show", "查看"),
    ("Download CSV", "下载 CSV"),
    ("Download Excel", "下载 Excel"),
    (
        "Overdue rate and tiers by month-end",
        "月末逾期率与五级分类",
    ),
    ("Flow rates by month-end", "月末滚动率"),
    ("Ever 30+ DPD by months on book", "按账龄累计逾期30天以上"),
    ("Contact rate by channel", "各渠道接通率"),
    ("Hit rate by rule", "各规则命中率"),
    ("Risk score", "风险评分"),
    ("Band", "等级"),
    (
        "Probability of 90+ DPD within 6 months",
        "6个月内逾期90天以上概率",
    ),
    ("What raises it most", "主要风险因素"),
    ("Model", "模型"),
    ("Scored on", "评分日期"),
    (
        "Not scored yet: no model is trained.",
        "尚未评分：还没有训练模型。",
    ),
    ("Contribution", "贡献"),
    ("Value", "取值"),
    ("Factor", "因素"),
    ("Contact rate (30 days)", "接通率(近30天)"),
    ("Right-party rate (30 days)", "本人接通率(近30天)"),
    ("Promise-kept rate (30 days)", "承诺兑现率(近30天)"),
    ("Vehicle and trackers", "车辆与定位"),
    ("Location views", "位置查看记录"),
    ("Viewed at", "查看时间"),
    ("User", "用户"),
    (
        "Locations are sensitive personal information: this view is logged.",
        "位置属于敏感个人信息：本次查看已记录。",
    ),
    ("Province of registration", "登记省份"),
    ("Staying near", "停留地点"),
    ("Trackers", "定位器"),
    ("Device", "设备"),
    ("Last seen", "最后上报"),
    ("Last position", "最后位置"),
    ("offline", "离线"),
    ("online", "在线"),
    ("Tracker signals", "定位风险信号"),
    ("None.", "无。"),
    ("Signal", "信号"),
    ("Detail", "详情"),
    ("Latest events", "最近事件"),
    ("Time", "时间"),
    ("Event", "事件"),
    ("Position", "位置"),
    ("wired", "有线"),
    ("wireless", "无线"),
    ("position", "定位"),
    ("power_cut", "断电"),
    ("tamper", "拆动"),
    ("pawn_shop", "典当行"),
    ("used_car_market", "二手车市场"),
    ("gps_offline", "有线定位器长时间离线"),
    ("gps_power_cut", "定位器断电"),
    ("gps_tamper", "定位器被拆动"),
    ("gps_diverged", "有线与无线定位器位置分离"),
    ("gps_left_province", "车辆离开登记省份"),
    ("gps_pawn_shop_stay", "车辆在典当行长时间停留"),
    ("gps_used_car_market_stay", "车辆在二手车市场长时间停留"),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The English texts a source passes to `.t(…)` (`{ t(…)` in the sign-in page), `chrome(…)`
    /// or `chrome_done(…)`.
    fn texts_of(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for opener in [".t(\"", "{ t(\"", "chrome(\"", "chrome_done(\""] {
            let mut rest = source;
            while let Some(at) = rest.find(opener) {
                rest = &rest[at + opener.len()..];
                if let Some(end) = rest.find('"') {
                    found.push(rest[..end].to_string());
                    rest = &rest[end..];
                }
            }
        }
        found
    }

    #[test]
    fn every_text_of_the_pages_has_its_chinese() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for dir in ["templates/console", "src/console"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let source = std::fs::read_to_string(&path).unwrap();
                for text in texts_of(&source) {
                    assert!(
                        has_chinese(&text),
                        "{}: {text:?} has no Chinese",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 150, "only {checked} texts found");
        for role in huifang_core::team::Role::ALL {
            for (_, label) in super::super::menu(role, true) {
                assert!(has_chinese(label), "menu {label:?}");
            }
            assert!(has_chinese(role.as_str()), "role {role}");
        }
        for done in [
            "recorded",
            "reassigned",
            "acknowledged",
            "actioned",
            "resolved",
            "decided",
            "approved",
            "created",
            "changed",
            "nothing",
            "other",
        ] {
            assert!(has_chinese(super::super::done_message(done)), "{done}");
        }
    }

    #[test]
    fn numbers_in_each_language() {
        assert_eq!(count(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(count(Lang::Zh, 99_999), "99,999");
        assert_eq!(count(Lang::Zh, 1_234_567), "123.46万");
        assert_eq!(money(Lang::En, "1234567.89"), "1,234,567.89");
        assert_eq!(money(Lang::Zh, "999999.99"), "999,999.99");
        // 1,234,550.00 yuan is 123.455万 exactly: half up gives 123.46万
        assert_eq!(money(Lang::Zh, "1234550.00"), "123.46万");
        assert_eq!(money(Lang::Zh, "1234549.99"), "123.45万");
        assert_eq!(money(Lang::En, "-5.5"), "-5.50");
    }
}
