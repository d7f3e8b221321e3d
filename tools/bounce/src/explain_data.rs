//! Explanation texts, one row per reason: reason, who must act, English,
//! Korean. Keep each `title` to one line; `what` says what happened and
//! `todo` what to try. The last row (undefined) is the fallback.

use crate::Reason::{self, *};
use crate::explain::Actor::{self, *};
use crate::explain::Texts;

const fn t(title: &'static str, what: &'static str, todo: &'static str) -> Texts {
    Texts { title, what, todo }
}

pub(crate) static TEXTS: &[(Reason, Actor, Texts, Texts)] = &[
    (
        UserUnknown,
        Sender,
        t(
            "The recipient address does not exist",
            "The receiving server says there is no mailbox with this name at that domain.",
            "Check the address for typos (letters, dots, the domain). If it is right, ask the recipient for their current address by another channel. Remove it from mailing lists: mailing it again will fail the same way.",
        ),
        t(
            "받는 사람 주소가 존재하지 않습니다",
            "받는 서버에 이 이름의 메일함이 없다고 합니다.",
            "주소의 철자(영문자, 점, 도메인)를 확인하세요. 주소가 맞다면 다른 방법으로 받는 사람에게 현재 주소를 물어보세요. 다시 보내도 같은 이유로 실패하므로 발송 목록에서는 빼는 것이 좋습니다.",
        ),
    ),
    (
        MailboxFull,
        RecipientAdmin,
        t(
            "The recipient's mailbox is full",
            "The mailbox exists but has used up its quota, so the server refused new mail for now.",
            "Wait a while and send again, or tell the recipient by another channel that they should delete old mail. Large attachments make this more likely: send a link instead.",
        ),
        t(
            "받는 사람의 메일함이 가득 찼습니다",
            "메일함은 있지만 용량을 다 써서 서버가 새 메일을 받지 않았습니다.",
            "시간을 두고 다시 보내거나, 다른 방법으로 받는 사람에게 오래된 메일을 지워 달라고 알려 주세요. 첨부 파일이 크면 더 잘 생기므로 파일 대신 링크를 보내 보세요.",
        ),
    ),
    (
        HostUnknown,
        Sender,
        t(
            "The recipient's domain does not exist",
            "The part after @ could not be found in DNS, or it has no mail server.",
            "Check the domain for typos (e.g. gmial.com, naver.con). If it is right, the domain may have expired: ask the recipient for another address.",
        ),
        t(
            "받는 사람의 도메인이 존재하지 않습니다",
            "@ 뒤의 도메인을 DNS에서 찾을 수 없거나 메일 서버가 없습니다.",
            "도메인 철자를 확인하세요(예: gmial.com, naver.con). 맞다면 도메인이 만료되었을 수 있으니 받는 사람에게 다른 주소를 물어보세요.",
        ),
    ),
    (
        NoRelaying,
        Postmaster,
        t(
            "The server refused to relay the message",
            "The server that was given the message does not handle mail for this domain and will not pass it on.",
            "Check the recipient's domain. If it is right, our postmaster should check the MX records of that domain and our outgoing routing (smarthost, relay settings).",
        ),
        t(
            "서버가 메일 중계를 거부했습니다",
            "메일을 건네받은 서버가 이 도메인의 메일을 맡지 않아 전달을 거부했습니다.",
            "받는 사람 도메인을 확인하세요. 맞다면 메일 서버 관리자가 그 도메인의 MX 레코드와 우리 서버의 발송 경로(스마트호스트, 릴레이 설정)를 점검해야 합니다.",
        ),
    ),
    (
        Blocked,
        Postmaster,
        t(
            "Our sending server was blocked",
            "The receiving side refused our server's IP address or host name, often because it is on a block list (RBL/DNSBL). The address itself is probably fine.",
            "Do not remove the recipient. Our postmaster should look the sending IP up in the common block lists, request delisting, and find out why it was listed (a hacked account sending spam, an open form).",
        ),
        t(
            "우리 발송 서버가 차단되었습니다",
            "받는 쪽이 우리 서버의 IP 주소나 호스트 이름을 거부했습니다. 흔히 차단 목록(RBL/DNSBL)에 올라 있기 때문이며, 받는 주소 자체는 정상일 가능성이 큽니다.",
            "받는 사람을 목록에서 지우지 마세요. 메일 서버 관리자가 발송 IP를 주요 차단 목록에서 조회하고 해제를 요청하며, 등재된 원인(도용된 계정의 스팸 발송 등)을 찾아야 합니다.",
        ),
    ),
    (
        BadReputation,
        Postmaster,
        t(
            "Refused because of our sending reputation",
            "The receiver scored our IP address or domain as a poor sender, usually after complaints or many messages to bad addresses.",
            "Our postmaster should check the provider's postmaster tools, clean lists of dead addresses, honour unsubscribe requests, and send at a slower, steady rate until the score recovers.",
        ),
        t(
            "발송 평판 때문에 거부되었습니다",
            "받는 쪽이 우리 IP 주소나 도메인의 평판이 나쁘다고 판단했습니다. 보통 스팸 신고나 없는 주소로 많이 보낸 뒤에 생깁니다.",
            "메일 서버 관리자가 해당 업체의 발송자 도구를 확인하고, 없는 주소를 목록에서 정리하고, 수신 거부 요청을 반영하며, 평판이 회복될 때까지 천천히 꾸준히 보내야 합니다.",
        ),
    ),
    (
        RequirePtr,
        Postmaster,
        t(
            "Our server has no valid reverse DNS name",
            "The receiver requires the sending IP address to have a PTR record that matches the server's host name, and ours did not.",
            "Our postmaster should set a PTR record for the sending IP (through the hosting or network provider) that names the server, and make that name resolve back to the same IP.",
        ),
        t(
            "우리 서버에 올바른 역방향 DNS(PTR)가 없습니다",
            "받는 쪽은 발송 IP에 서버 이름과 맞는 PTR 레코드를 요구하는데, 우리 서버는 이를 갖추지 못했습니다.",
            "메일 서버 관리자가 호스팅 또는 회선 업체를 통해 발송 IP의 PTR 레코드를 서버 이름으로 설정하고, 그 이름이 다시 같은 IP로 조회되도록 해야 합니다.",
        ),
    ),
    (
        AuthFailure,
        Postmaster,
        t(
            "Sender authentication (SPF, DKIM or DMARC) failed",
            "The receiver could not verify that our server may send for the sender's domain.",
            "Our postmaster should check the domain's SPF record lists our sending IPs, that outgoing mail carries a valid DKIM signature, and that the DMARC policy matches how mail is really sent (including third-party senders).",
        ),
        t(
            "발신 도메인 인증(SPF, DKIM, DMARC)에 실패했습니다",
            "받는 쪽이 우리 서버가 보낸 사람 도메인의 메일을 보낼 자격이 있는지 확인하지 못했습니다.",
            "메일 서버 관리자가 도메인의 SPF 레코드에 발송 IP가 들어 있는지, 나가는 메일에 올바른 DKIM 서명이 붙는지, DMARC 정책이 실제 발송 방식(외부 발송 서비스 포함)과 맞는지 확인해야 합니다.",
        ),
    ),
    (
        SpamDetected,
        Sender,
        t(
            "The message was classified as spam",
            "The receiver's filter judged the content of this message to be spam.",
            "Rewrite the message: fewer links and images, no URL shorteners, no attachments that look like invoices, a plain subject. If a normal message is refused, ask the recipient to add you to their allow list.",
        ),
        t(
            "메일이 스팸으로 분류되었습니다",
            "받는 쪽 필터가 이 메일의 내용을 스팸으로 판단했습니다.",
            "본문을 다시 써 보세요. 링크와 이미지를 줄이고, 단축 URL과 청구서처럼 보이는 첨부를 피하고, 제목을 평범하게 하세요. 평범한 메일도 거부된다면 받는 사람에게 수신 허용 목록에 넣어 달라고 부탁하세요.",
        ),
    ),
    (
        VirusDetected,
        Sender,
        t(
            "Malware was found in the message",
            "The receiver's scanner found a virus or other malware, usually in an attachment.",
            "Scan your computer and the attached files with an up-to-date antivirus program. Send documents as a shared link or in another format; archives with macros or executables are often refused.",
        ),
        t(
            "메일에서 악성 코드가 발견되었습니다",
            "받는 쪽 검사기가 주로 첨부 파일에서 바이러스나 악성 코드를 찾았습니다.",
            "최신 백신으로 컴퓨터와 첨부 파일을 검사하세요. 문서는 공유 링크나 다른 형식으로 보내세요. 매크로나 실행 파일이 든 압축 파일은 자주 거부됩니다.",
        ),
    ),
    (
        Filtered,
        RecipientAdmin,
        t(
            "A filter at the recipient's side refused the message",
            "The address was accepted at first, but a filter (the recipient's own rules or the site's) refused the message afterwards.",
            "Ask the recipient by another channel whether they block your address or domain, or receive only from an allow list. Sending again unchanged will usually fail.",
        ),
        t(
            "받는 쪽 필터가 메일을 거부했습니다",
            "주소는 처음에 받아들여졌지만, 받는 사람이나 받는 쪽 서버의 필터 규칙이 메일을 거부했습니다.",
            "받는 사람에게 다른 방법으로 내 주소나 도메인을 수신 거부했는지, 허용 목록에 있는 주소만 받도록 설정했는지 물어보세요. 그대로 다시 보내면 대개 또 실패합니다.",
        ),
    ),
    (
        Rejected,
        Sender,
        t(
            "The sender address was refused",
            "The receiver refused the envelope sender (MAIL FROM) or its domain, not the recipient.",
            "Check that you send from a real, working address of your own domain. Mailing lists and groups refuse posts from non-members: join first or use your subscribed address. Our postmaster should check the sender domain's DNS if every message is refused.",
        ),
        t(
            "보낸 사람 주소가 거부되었습니다",
            "받는 쪽이 받는 사람이 아니라 보낸 사람 주소(MAIL FROM)나 그 도메인을 거부했습니다.",
            "실제로 쓰는 내 도메인 주소로 보내는지 확인하세요. 메일링 리스트나 그룹은 회원이 아닌 사람의 글을 거부하니 먼저 가입하거나 가입한 주소로 보내세요. 모든 메일이 거부되면 메일 서버 관리자가 발신 도메인의 DNS를 점검해야 합니다.",
        ),
    ),
    (
        PolicyViolation,
        Sender,
        t(
            "The receiving site's policy forbids this message",
            "The message broke a local rule of the receiving site (content, attachment types, sender or volume policy).",
            "Read the text of the refusal: it often names the rule or a help page. Change what it names (attachment, links, headers) or ask the recipient's administrator for an exception.",
        ),
        t(
            "받는 쪽 정책에 어긋나 거부되었습니다",
            "메일이 받는 쪽의 자체 규칙(내용, 첨부 형식, 발신자 또는 발송량 정책)에 걸렸습니다.",
            "거부 메시지 원문을 읽어 보세요. 규칙이나 안내 페이지가 적혀 있는 경우가 많습니다. 지적된 부분(첨부, 링크, 헤더)을 고치거나 받는 쪽 관리자에게 예외를 요청하세요.",
        ),
    ),
    (
        SecurityError,
        Postmaster,
        t(
            "A security requirement was not met",
            "The receiver demanded something our connection or message lacked: SMTP authentication, encryption or a permitted route.",
            "If you sent through our server without logging in, set up your mail program to authenticate (port 587 with your password). Otherwise our postmaster should read the refusal and check TLS and relay settings.",
        ),
        t(
            "보안 요구 사항을 충족하지 못했습니다",
            "받는 쪽이 SMTP 인증, 암호화, 허용된 경로 등 우리 연결이나 메일에 없는 것을 요구했습니다.",
            "로그인하지 않고 우리 서버로 보냈다면 메일 프로그램에서 SMTP 인증(587번 포트와 비밀번호)을 켜세요. 그렇지 않다면 메일 서버 관리자가 거부 메시지를 보고 TLS와 릴레이 설정을 점검해야 합니다.",
        ),
    ),
    (
        FailedStartTls,
        Postmaster,
        t(
            "An encrypted (TLS) connection could not be set up",
            "One side required TLS, but the STARTTLS negotiation failed (certificate, protocol version or cipher mismatch).",
            "Our postmaster should check that our certificate is valid and complete, that modern TLS versions are enabled, and what the remote server offers. The message will go once TLS works.",
        ),
        t(
            "암호화(TLS) 연결을 맺지 못했습니다",
            "한쪽이 TLS를 요구했지만 STARTTLS 협상(인증서, 프로토콜 버전, 암호 방식)이 실패했습니다.",
            "메일 서버 관리자가 우리 인증서가 유효하고 체인이 완전한지, 최신 TLS 버전이 켜져 있는지, 상대 서버가 무엇을 지원하는지 확인해야 합니다. TLS가 되면 메일도 전달됩니다.",
        ),
    ),
    (
        MesgTooBig,
        Sender,
        t(
            "The message is too large",
            "The message with its attachments is bigger than the receiving server accepts.",
            "Send the files as a download link, compress them, or split them over several messages. Attachments grow by about a third when mailed.",
        ),
        t(
            "메일 크기가 너무 큽니다",
            "첨부를 포함한 메일이 받는 서버가 허용하는 크기보다 큽니다.",
            "파일을 다운로드 링크로 보내거나, 압축하거나, 여러 통으로 나눠 보내세요. 첨부 파일은 메일로 보낼 때 약 3분의 1만큼 커집니다.",
        ),
    ),
    (
        ExceedLimit,
        Sender,
        t(
            "The message exceeded a limit of the recipient",
            "The message went over a limit other than the server's maximum size: the recipient's own size limit, header size or a similar cap.",
            "Make the message smaller or simpler (fewer recipients per message, smaller attachments) and send again; ask the recipient about their limit if it keeps failing.",
        ),
        t(
            "받는 쪽 제한을 넘었습니다",
            "서버 최대 크기가 아닌 다른 제한(받는 사람별 크기 제한, 헤더 크기 등)을 넘었습니다.",
            "메일을 더 작고 단순하게(한 번에 받는 사람 수를 줄이고 첨부를 작게) 만들어 다시 보내세요. 계속 실패하면 받는 사람에게 제한을 물어보세요.",
        ),
    ),
    (
        Speeding,
        Postmaster,
        t(
            "Sent too fast: a rate limit was hit",
            "The receiver limits how many messages it takes per time from one sender or IP, and we went over.",
            "The queue retries on its own. For bulk mailings, our postmaster should lower the sending rate to that provider and spread the mailing over time.",
        ),
        t(
            "너무 빠르게 보내 발송 속도 제한에 걸렸습니다",
            "받는 쪽은 한 발신자나 IP에서 일정 시간에 받는 메일 수를 제한하는데, 그 한도를 넘었습니다.",
            "대기열이 알아서 다시 보냅니다. 대량 발송이라면 메일 서버 관리자가 그 업체로 보내는 속도를 낮추고 발송을 시간에 나눠야 합니다.",
        ),
    ),
    (
        TooManyConn,
        Postmaster,
        t(
            "Too many connections or recipients at once",
            "The receiver refused because we opened too many simultaneous connections or put too many recipients in one transaction.",
            "The queue retries on its own. Our postmaster should lower the number of parallel connections and recipients per message for that destination.",
        ),
        t(
            "동시 연결 또는 받는 사람이 너무 많습니다",
            "동시에 너무 많이 연결했거나 한 번에 너무 많은 받는 사람을 넣어 받는 쪽이 거부했습니다.",
            "대기열이 알아서 다시 보냅니다. 메일 서버 관리자가 그 목적지로 가는 동시 연결 수와 메일당 받는 사람 수를 줄여야 합니다.",
        ),
    ),
    (
        Suspend,
        RecipientAdmin,
        t(
            "The recipient's account is disabled or suspended",
            "The mailbox exists but is switched off: suspended, locked, dormant for long, or not paid for.",
            "Contact the recipient by another channel; they need to reactivate the account. Stop regular mailings to it until then.",
        ),
        t(
            "받는 사람 계정이 정지되었거나 사용 중지 상태입니다",
            "메일함은 있지만 정지, 잠금, 장기 미사용(휴면) 또는 요금 미납으로 꺼져 있습니다.",
            "다른 방법으로 받는 사람에게 알려 계정을 다시 활성화하게 하세요. 그때까지는 정기 발송을 멈추세요.",
        ),
    ),
    (
        HasMoved,
        Sender,
        t(
            "The recipient has moved to another address",
            "The old address no longer receives mail and mail is not forwarded.",
            "Look in the refusal for the new address, or ask the recipient for it, and update your address book and lists.",
        ),
        t(
            "받는 사람이 다른 주소로 옮겼습니다",
            "이전 주소는 더 이상 메일을 받지 않으며 전달 설정도 없습니다.",
            "거부 메시지에 새 주소가 있는지 보거나 받는 사람에게 물어보고, 주소록과 발송 목록을 고치세요.",
        ),
    ),
    (
        NotAccept,
        Sender,
        t(
            "The destination accepts no mail",
            "The recipient's domain declares that it takes no mail at all (for example a null MX record).",
            "The address cannot receive mail; ask the recipient for another address. If it is your own domain that is refused, our postmaster should check its MX records.",
        ),
        t(
            "받는 쪽이 메일을 전혀 받지 않습니다",
            "받는 사람 도메인이 메일을 받지 않는다고 선언했습니다(예: null MX 레코드).",
            "이 주소로는 메일을 받을 수 없으니 받는 사람에게 다른 주소를 물어보세요. 우리 도메인이 거부된 것이라면 메일 서버 관리자가 MX 레코드를 확인해야 합니다.",
        ),
    ),
    (
        Expired,
        Nobody,
        t(
            "Delivery was tried until the retry time ran out",
            "The receiving server could not be reached or kept answering 'try later' for the whole retry period, so the message was given up (or is still being retried).",
            "For a delay notice, nothing to do yet: the server keeps trying. If it was given up, send again later; if one domain fails like this for days, our postmaster should check whether that server is down or refusing us.",
        ),
        t(
            "재시도 기간이 끝날 때까지 전달하지 못했습니다",
            "받는 서버에 연결할 수 없었거나 재시도 기간 내내 '나중에 다시'라는 응답만 받아 발송을 포기했습니다(또는 아직 재시도 중입니다).",
            "지연 알림이라면 아직 할 일은 없습니다. 서버가 계속 시도합니다. 포기된 경우 나중에 다시 보내세요. 한 도메인이 며칠씩 이렇게 실패하면 메일 서버 관리자가 그 서버의 장애나 거부 여부를 확인해야 합니다.",
        ),
    ),
    (
        NetworkError,
        Postmaster,
        t(
            "A network or DNS problem stopped delivery",
            "The connection to the receiving server failed: no route, a dropped connection, a DNS failure or a mail loop between servers.",
            "Usually temporary: the queue retries. If it persists, our postmaster should check our DNS resolver and outbound connectivity, and the MX records of the destination (loops often come from wrong MX or forwarding).",
        ),
        t(
            "네트워크 또는 DNS 문제로 전달하지 못했습니다",
            "받는 서버로 가는 연결이 실패했습니다(경로 없음, 연결 끊김, DNS 실패, 서버 사이의 메일 순환).",
            "대개 일시적이며 대기열이 다시 시도합니다. 계속되면 메일 서버 관리자가 우리 DNS 조회와 외부 연결, 목적지의 MX 레코드를 점검해야 합니다(순환은 잘못된 MX나 전달 설정에서 자주 생깁니다).",
        ),
    ),
    (
        SystemError,
        RecipientAdmin,
        t(
            "The receiving server had an internal error",
            "The remote server failed on its side: a misconfiguration, an overloaded or broken component.",
            "Send again later. If it keeps failing, tell the recipient by another channel so their administrator can fix the server.",
        ),
        t(
            "받는 서버에 내부 오류가 있었습니다",
            "상대 서버 쪽에서 설정 오류나 과부하, 구성 요소 고장으로 실패했습니다.",
            "나중에 다시 보내세요. 계속 실패하면 받는 사람에게 다른 방법으로 알려 그쪽 관리자가 서버를 고치게 하세요.",
        ),
    ),
    (
        SystemFull,
        RecipientAdmin,
        t(
            "The receiving server is out of disk space",
            "The remote server has no room left to store incoming mail.",
            "Send again later; the recipient's administrator must free space. Tell the recipient by another channel if it lasts.",
        ),
        t(
            "받는 서버의 디스크 공간이 부족합니다",
            "상대 서버에 들어오는 메일을 저장할 공간이 없습니다.",
            "나중에 다시 보내세요. 받는 쪽 관리자가 공간을 확보해야 하므로 오래가면 받는 사람에게 다른 방법으로 알려 주세요.",
        ),
    ),
    (
        MailerError,
        RecipientAdmin,
        t(
            "The recipient's delivery program failed",
            "The message reached the server, but the local program that files or forwards mail (a pipe, procmail, a filter script) exited with an error.",
            "Tell the recipient by another channel; their administrator must fix the delivery program or forwarding rule. Sending again will fail until then.",
        ),
        t(
            "받는 쪽의 메일 배달 프로그램이 실패했습니다",
            "메일은 서버에 도착했지만 메일을 저장하거나 전달하는 로컬 프로그램(파이프, procmail, 필터 스크립트)이 오류로 끝났습니다.",
            "받는 사람에게 다른 방법으로 알려 주세요. 그쪽 관리자가 배달 프로그램이나 전달 규칙을 고쳐야 하며, 그 전까지는 다시 보내도 실패합니다.",
        ),
    ),
    (
        SyntaxError,
        Postmaster,
        t(
            "The remote server rejected an SMTP command as malformed",
            "The receiving server did not accept a command or parameter our server sent, for example a malformed address.",
            "Check the recipient address for stray characters (spaces, commas, quotes). If addresses are fine, our postmaster should report the refusal text: it points to a protocol incompatibility.",
        ),
        t(
            "상대 서버가 SMTP 명령 형식을 거부했습니다",
            "받는 서버가 우리 서버가 보낸 명령이나 인자(예: 잘못된 형식의 주소)를 받아들이지 않았습니다.",
            "받는 주소에 공백, 쉼표, 따옴표 같은 잘못된 문자가 없는지 확인하세요. 주소가 정상이라면 프로토콜 호환 문제이므로 메일 서버 관리자에게 거부 메시지를 전달하세요.",
        ),
    ),
    (
        ContentError,
        Sender,
        t(
            "The message format was not accepted",
            "The receiver refused the message because of how its header or body is encoded (for example raw 8-bit text where 7-bit is required).",
            "Send again from an up-to-date mail program, without unusual characters in the subject or file names. If every message fails this way, our postmaster should check the encoding our server applies.",
        ),
        t(
            "메일 형식이 받아들여지지 않았습니다",
            "헤더나 본문의 인코딩 방식(예: 7비트만 허용되는데 8비트 문자를 그대로 보냄) 때문에 거부되었습니다.",
            "최신 메일 프로그램으로, 제목이나 파일 이름에 특이한 문자를 빼고 다시 보내세요. 모든 메일이 이렇게 실패하면 메일 서버 관리자가 서버의 인코딩 처리를 점검해야 합니다.",
        ),
    ),
    (
        NotCompliantRfc,
        Sender,
        t(
            "The message breaks the mail format standard",
            "The receiver found the message not compliant with RFC 5322, for example duplicate Subject or From fields, or several addresses in From.",
            "If the message came from a script or application, fix how it builds headers (one From, one Subject, one Date). From a normal mail program, report it to our postmaster with the refusal text.",
        ),
        t(
            "메일이 표준 형식(RFC 5322)에 맞지 않습니다",
            "제목(Subject)이나 보낸 사람(From) 헤더가 중복되거나 From에 주소가 여럿 있는 등 표준에 어긋난다고 판단되었습니다.",
            "스크립트나 프로그램이 만든 메일이라면 헤더 생성 방식을 고치세요(From, Subject, Date는 하나씩). 일반 메일 프로그램에서 보냈다면 거부 메시지와 함께 메일 서버 관리자에게 알려 주세요.",
        ),
    ),
    (
        Suppressed,
        Sender,
        t(
            "The address is on a suppression list",
            "The sending service did not even try: the address bounced or complained before and was put on a do-not-send list.",
            "Confirm the address with the recipient. If it is valid again, remove it from the suppression list in the sending service and send once more.",
        ),
        t(
            "주소가 발송 제외 목록에 있습니다",
            "발송 서비스가 아예 보내지 않았습니다. 이전에 반송되었거나 스팸 신고가 있어 발송 제외 목록에 올라 있습니다.",
            "받는 사람에게 주소를 확인하세요. 다시 유효해졌다면 발송 서비스의 제외 목록에서 지운 뒤 다시 보내세요.",
        ),
    ),
    (
        Delivered,
        Nobody,
        t(
            "Delivered successfully",
            "This is a success notice: the message reached the recipient's server or mailbox.",
            "Nothing to do.",
        ),
        t(
            "정상적으로 전달되었습니다",
            "성공 알림입니다. 메일이 받는 사람의 서버나 메일함에 도착했습니다.",
            "할 일이 없습니다.",
        ),
    ),
    (
        Feedback,
        Postmaster,
        t(
            "A spam complaint (feedback report) about a message",
            "A mailbox provider reports that a recipient marked one of our messages as spam or asked to unsubscribe. It is not a delivery failure.",
            "Stop mailing that recipient the kind of mail they complained about and honour unsubscribes at once. Many complaints hurt our sending reputation: our postmaster should find the source.",
        ),
        t(
            "스팸 신고(피드백 보고서)가 들어왔습니다",
            "메일 업체가 받는 사람이 우리 메일을 스팸으로 신고했거나 수신 거부를 요청했다고 알려 온 것입니다. 전달 실패는 아닙니다.",
            "신고한 받는 사람에게 그런 메일을 더 보내지 말고 수신 거부는 바로 반영하세요. 신고가 많으면 발송 평판이 떨어지므로 메일 서버 관리자가 원인을 찾아야 합니다.",
        ),
    ),
    (
        Vacation,
        Nobody,
        t(
            "An automatic reply (out of office)",
            "The recipient's mailbox answered automatically, for example while they are away. The message was delivered.",
            "Nothing to do; read the reply if it names a return date or another contact.",
        ),
        t(
            "자동 응답(부재중 알림)입니다",
            "받는 사람이 자리를 비운 동안 메일함이 자동으로 답한 것입니다. 메일은 전달되었습니다.",
            "할 일이 없습니다. 복귀 날짜나 다른 연락처가 적혀 있다면 참고하세요.",
        ),
    ),
    (
        Undefined,
        Sender,
        t(
            "The reason could not be determined",
            "The returned message does not say clearly why delivery failed.",
            "Read the original notice text. Check the address and send again later; if it fails again, ask our postmaster to look at the notice.",
        ),
        t(
            "원인을 알 수 없습니다",
            "반송 메일에 전달 실패 이유가 분명히 적혀 있지 않습니다.",
            "반송 메일 원문을 읽어 보세요. 주소를 확인하고 나중에 다시 보내 보고, 또 실패하면 메일 서버 관리자에게 확인을 요청하세요.",
        ),
    ),
];
