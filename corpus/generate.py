#!/usr/bin/env python3
"""Generates popline's labelled reply corpus: `corpus/<category>/<name>.eml`
and `<name>.expected.json`.

Every case is a reply to a notification the (fictional) Lumen beta program
sent. The script writes each reply the way the client named in the case
writes it: its MIME shape, its quote format ("On ... wrote:" in the client's
locale, Outlook's header block, Gmail/Apple/Thunderbird HTML containers), its
footer, charset and transfer encoding. The expected trimmed body is the text
the script put in as the tester's own words, so the labels do not come from
the trimmer under test.

Deterministic: run it again and the files come out the same.

    python3 corpus/generate.py          # rewrites corpus/*/ from scratch
"""

import base64
import hashlib
import hmac
import json
import quopri
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MAILBOX = "replies@beta.example.com"
TEAM_NAME = "Lumen Beta Team"
TEAM_ADDR = "beta@notify.beta.example.com"
# What the quality test passes as the mapper context and configuration.
RECEIVED_AT = "2026-03-10T12:00:00Z"
KEY_NEW = "corpus-key-2026-b-7c1e4f0a9d3b5e82"
KEY_OLD = "corpus-key-2025-a-1f9a7d2c4e6b8a03"
CONFIG = {
    "message-id-pattern": "feedback-{id}@notify.beta.example.com",
    "token-keys": f"{KEY_NEW}, {KEY_OLD}",
}
VALID_UNTIL = int(datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp())
EXPIRED_AT = int(datetime(2026, 3, 5, tzinfo=timezone.utc).timestamp())



def mint(item_id, recipient, expires, key):
    """Same construction as popline_reply_token::mint (independent code)."""
    message = "\n".join(
        ["popline reply token v1", item_id.lower(), recipient.lower(), str(expires)]
    ).encode()
    mac = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:24]
    return f"{item_id}.{expires}.{mac}"


# --------------------------------------------------------------------------
# People, items, and what they write

@dataclass
class Tester:
    name: str
    addr: str
    lang: str

    @property
    def first(self):
        return self.name.split()[0]


TESTERS = {
    "en": [Tester("Dana Whitfield", "dana.whitfield@example.org", "en"),
           Tester("Marcus Reid", "marcus.reid@example.net", "en"),
           Tester("Priya Raman", "priya.raman@example.com", "en"),
           Tester("Tom O'Neill", "tom.oneill@example.co.uk", "en")],
    "de": [Tester("Jörg Hoffmann", "j.hoffmann@example.de", "de"),
           Tester("Anna Weiß", "anna.weiss@example.at", "de")],
    "fr": [Tester("Amélie Laurent", "amelie.laurent@example.fr", "fr"),
           Tester("Théo Girard", "theo.girard@example.be", "fr")],
    "es": [Tester("Lucía Fernández", "lucia.fernandez@example.es", "es"),
           Tester("Mateo Ruiz", "mateo.ruiz@example.mx", "es")],
    "it": [Tester("Giulia Bianchi", "giulia.bianchi@example.it", "it")],
    "nl": [Tester("Sanne de Vries", "sanne.devries@example.nl", "nl")],
    "pt": [Tester("João Pereira", "joao.pereira@example.com.br", "pt"),
           Tester("Inês Costa", "ines.costa@example.pt", "pt")],
    "sv": [Tester("Linnéa Åberg", "linnea.aberg@example.se", "sv")],
    "pl": [Tester("Zofia Wójcik", "zofia.wojcik@example.pl", "pl")],
    "ja": [Tester("佐藤 健", "ken.sato@example.jp", "ja"),
           Tester("鈴木 由美", "yumi.suzuki@example.co.jp", "ja")],
    "zh": [Tester("王 芳", "wang.fang@example.cn", "zh")],
    "zh-tw": [Tester("陳 志明", "chen.zhiming@example.com.tw", "zh-tw")],
    "ru": [Tester("Ольга Смирнова", "olga.smirnova@example.ru", "ru")],
}

ITEMS = [
    ("1042", "PDF export crashes on large projects"),
    ("1043", "Sync stalls after resume"),
    ("1044", "New onboarding tour"),
    ("1045", "Dark mode contrast in the sidebar"),
    ("1046", "Calendar import skips recurring events"),
    ("1047", "Search is slow with many tags"),
    ("1048", "Crash when pasting images"),
    ("1049", "Offline mode loses edits"),
    ("1050", "Keyboard shortcuts on AZERTY layouts"),
    ("1051", "Notifications arrive twice"),
]

# The notification a tester replies to, per language: greeting, body, the
# two questions inline replies answer, the sign-off. `[ref:ID]` is the
# hidden body marker.
NOTIFICATION = {
    "en": ("Hi {first},", "Thanks for reporting this. Build 412 is out and should fix it.",
           ["1. Does the problem still happen on build 412?",
            "2. Did you notice anything else since the update?"],
           "Just reply to this email."),
    "de": ("Hallo {first},", "danke für deine Meldung. Build 412 ist da und sollte das beheben.",
           ["1. Tritt das Problem mit Build 412 noch auf?",
            "2. Ist dir seit dem Update sonst etwas aufgefallen?"],
           "Antworte einfach auf diese E-Mail."),
    "fr": ("Bonjour {first},", "Merci pour ton signalement. La version 412 est disponible et devrait corriger le problème.",
           ["1. Le problème se produit-il encore avec la version 412 ?",
            "2. As-tu remarqué autre chose depuis la mise à jour ?"],
           "Il suffit de répondre à cet e-mail."),
    "es": ("Hola {first}:", "Gracias por avisarnos. Ya está disponible la versión 412, que debería solucionarlo.",
           ["1. ¿Sigue ocurriendo el problema con la versión 412?",
            "2. ¿Has notado algo más desde la actualización?"],
           "Solo tienes que responder a este correo."),
    "it": ("Ciao {first},", "grazie per la segnalazione. La build 412 è disponibile e dovrebbe risolvere il problema.",
           ["1. Il problema si verifica ancora con la build 412?",
            "2. Hai notato altro dopo l'aggiornamento?"],
           "Rispondi pure a questa email."),
    "nl": ("Hoi {first},", "Bedankt voor je melding. Build 412 is uit en zou het moeten oplossen.",
           ["1. Treedt het probleem nog op met build 412?",
            "2. Is je sinds de update nog iets anders opgevallen?"],
           "Beantwoord deze e-mail gewoon."),
    "pt": ("Olá {first},", "Obrigado pelo aviso. A versão 412 já saiu e deve resolver isso.",
           ["1. O problema ainda acontece na versão 412?",
            "2. Notou mais alguma coisa desde a atualização?"],
           "É só responder a este e-mail."),
    "sv": ("Hej {first},", "Tack för din rapport. Version 412 är ute och bör lösa det.",
           ["1. Händer problemet fortfarande i version 412?",
            "2. Har du märkt något annat sedan uppdateringen?"],
           "Svara bara på det här mejlet."),
    "pl": ("Cześć {first},", "dziękujemy za zgłoszenie. Wersja 412 jest już dostępna i powinna to naprawić.",
           ["1. Czy problem nadal występuje w wersji 412?",
            "2. Czy zauważyłeś coś jeszcze po aktualizacji?"],
           "Wystarczy odpowiedzieć na tego e-maila."),
    "ja": ("{first}様", "ご報告ありがとうございます。ビルド412で修正されているはずです。",
           ["1. ビルド412でも問題は発生しますか？",
            "2. アップデート後に他に気づいた点はありますか？"],
           "このメールに返信してください。"),
    "zh": ("{first}，您好：", "感谢您的反馈。412 版本已经发布，应该修复了这个问题。",
           ["1. 在 412 版本中问题是否仍然出现？",
            "2. 更新后您还注意到其他问题吗？"],
           "直接回复此邮件即可。"),
    "zh-tw": ("{first}，您好：", "感謝您的回報。412 版已經發布，應該修正了這個問題。",
              ["1. 在 412 版中問題是否仍然出現？",
               "2. 更新後您還注意到其他問題嗎？"],
              "直接回覆此郵件即可。"),
}
NOTIFICATION["ru"] = NOTIFICATION["en"]

# What testers write back, per language: top-post replies (paragraphs), and
# answers to the two questions for inline replies.
REPLIES = {
    "en": [
        ["Hi Lumen team,",
         "Build 412 fixes it for me. Exporting my 40-page project to PDF now takes about 6 seconds on my ThinkPad (Windows 11, 16 GB).",
         "One thing: the progress bar jumps straight to 100% and then sits there for the whole export.",
         "{first}"],
        ["Still happening, I'm afraid.",
         "Steps:\n1. Open a project with more than 200 pages\n2. File > Export > PDF\n3. Wait about 20 seconds",
         "The app closes without an error message. Crash log attached.",
         "Thanks,\n{first}"],
        ["Works now, thanks!"],
        ["Hello,",
         "I updated this morning and the sync no longer stalls after the laptop wakes up. I tried it five times with the lid closed for ten minutes or more.",
         "However, the first sync after waking takes almost a minute, which is longer than before.",
         "Best regards,\n{name}"],
        ["Quick update: it's better but not fixed. It happened once more yesterday evening, after about 3 hours of use. I've attached a screenshot of the sidebar when it happened."],
        ["Hi,",
         "I can confirm the fix on macOS 15.3 (M2 Air). On my Windows desktop the problem remains though: the icons in the sidebar are still grey on dark grey.",
         "Happy to test another build.",
         "Cheers,\n{first}"],
        ["Yes, that's much better. The tour skips the sharing step now when the window is narrow, which makes sense.",
         "Small typo on step 2: \"recieve\" should be \"receive\"."],
        ["No luck. Same crash, same place. Let me know if you need the full log, it's 12 MB so I didn't attach it."],
    ],
    "de": [
        ["Hallo zusammen,",
         "mit Build 412 funktioniert der Export jetzt. Bei meinem größten Projekt (320 Seiten) dauert es etwa 15 Sekunden.",
         "Viele Grüße\n{first}"],
        ["Leider nein, der Fehler tritt weiterhin auf. Ich habe das Protokoll angehängt.",
         "Gruß, {first}"],
        ["Danke, das Problem ist behoben. Mir ist aber aufgefallen, dass die Suche nach Umlauten (z. B. „Größe“) nichts findet."],
    ],
    "fr": [
        ["Bonjour,",
         "Avec la version 412, l'export fonctionne enfin. Merci !",
         "Par contre, les raccourcis clavier ne marchent toujours pas avec un clavier AZERTY : Ctrl+Z annule deux fois.",
         "Cordialement,\n{first}"],
        ["Le problème est toujours là, malheureusement. Ça plante dès que je colle une image depuis le navigateur.",
         "{first}"],
        ["Tout fonctionne, merci beaucoup pour la réactivité !"],
    ],
    "es": [
        ["Hola:",
         "Con la versión 412 ya no se cuelga la sincronización. Lo he probado en dos equipos.",
         "Eso sí, las notificaciones me siguen llegando dos veces.",
         "Un saludo,\n{first}"],
        ["Sigue fallando igual. Adjunto una captura de pantalla del error.",
         "Gracias,\n{first}"],
    ],
    "it": [
        ["Ciao,",
         "con la build 412 l'importazione del calendario funziona, anche gli eventi ricorrenti ci sono tutti.",
         "Grazie mille!\n{first}"],
        ["Purtroppo il problema c'è ancora: la ricerca impiega circa 8 secondi con 500 tag."],
    ],
    "nl": [
        ["Hoi,",
         "Build 412 lost het bij mij op. De modus offline houdt mijn wijzigingen nu netjes vast.",
         "Groetjes,\n{first}"],
        ["Helaas, het gebeurt nog steeds. Zie de bijlage voor het logbestand."],
    ],
    "pt": [
        ["Olá,",
         "Na versão 412 a exportação para PDF funciona bem, inclusive com imagens grandes.",
         "Obrigado,\n{first}"],
        ["O problema continua. A aplicação fecha quando colo uma imagem do navegador.",
         "{first}"],
    ],
    "sv": [
        ["Hej!",
         "Nu fungerar synkningen efter viloläge. Tack för snabb hjälp!",
         "Hälsningar,\n{first}"],
        ["Tyvärr händer det fortfarande, ungefär var tredje gång jag öppnar locket."],
    ],
    "pl": [
        ["Cześć,",
         "w wersji 412 eksport działa poprawnie. Dziękuję za szybką poprawkę!",
         "Pozdrawiam,\n{first}"],
        ["Niestety problem nadal występuje. Załączam zrzut ekranu."],
    ],
    "ja": [
        ["お世話になっております。",
         "ビルド412で問題が解決しました。大きなプロジェクトでもPDFの書き出しが約10秒で終わります。",
         "よろしくお願いいたします。\n{first}"],
        ["残念ながら、まだ同じエラーが発生します。ログを添付します。"],
    ],
    "zh": [
        ["你好，",
         "更新到 412 版本后，同步问题已经解决了。我在两台电脑上都测试过。",
         "谢谢！\n{cjkname}"],
        ["问题依然存在，附上截图。"],
    ],
    "zh-tw": [
        ["您好，",
         "更新到 412 版之後，匯出功能正常了。謝謝！",
         "{cjkname}"],
    ],
    "ru": [
        ["Здравствуйте,",
         "В сборке 412 экспорт работает, спасибо! Правда, индикатор прогресса всё ещё зависает на 100%.",
         "С уважением,\n{first}"],
    ],
}

INLINE_ANSWERS = {
    "en": [("Yes, but only with projects over 200 pages.", "No, everything else looks fine."),
           ("No, it's gone!", "The sidebar icons look blurry on my 4K screen.")],
    "de": [("Nein, das Problem ist weg.", "Die Suche ist seit dem Update deutlich schneller.")],
    "fr": [("Oui, toujours, mais moins souvent.", "Non, rien d'autre.")],
    "es": [("No, ya no ocurre.", "Sí: el modo oscuro se ve mejor.")],
    "it": [("Sì, ancora con i file grandi.", "No, nient'altro.")],
    "nl": [("Nee, het is opgelost.", "Ja, de zoekfunctie is trager geworden.")],
    "pt": [("Não, está resolvido.", "Nada de novo.")],
    "sv": [("Nej, det är löst.", "Ja, mörkt läge ser bättre ut.")],
    "pl": [("Nie, już działa.", "Tak, wyszukiwanie jest wolniejsze.")],
    "ja": [("いいえ、解決しました。", "特にありません。")],
    "zh": [("没有了，已经解决。", "暂时没有发现其他问题。")],
}

SIGNATURES = {
    "en": ["{name}\nQA Engineer, Example Logistics\n+44 20 7946 0321", "{name}"],
    "de": ["{name}\nIT-Leitung | Beispiel GmbH"],
    "fr": ["{name}\nChef de projet"],
    "pl": ["{name}"],
    "nl": ["{name}\nBeheerder"],
    "sv": ["{name}"],
    "pt": ["{name}"],
    "es": ["{name}"],
    "it": ["{name}"],
    "ja": ["{name}\n株式会社サンプル 開発部"],
    "zh": ["{name}"],
}

IPHONE_FOOTER = {
    "en": "Sent from my iPhone", "de": "Von meinem iPhone gesendet",
    "fr": "Envoyé de mon iPhone", "es": "Enviado desde mi iPhone",
    "it": "Inviato da iPhone", "nl": "Verstuurd vanaf mijn iPhone",
    "pt": "Enviado do meu iPhone", "sv": "Skickat från min iPhone",
    "pl": "Wysłane z iPhone'a", "ja": "iPhoneから送信", "zh": "发自我的iPhone",
    "zh-tw": "從我的 iPhone 傳送",
}
OUTLOOK_MOBILE_FOOTER = {
    "en": "Get Outlook for {os}", "de": "Outlook für {os} beziehen",
    "fr": "Obtenir Outlook pour {os}", "es": "Obtener Outlook para {os}",
    "it": "Scarica Outlook per {os}", "nl": "Outlook voor {os} downloaden",
    "pt": "Obter o Outlook para {os}", "sv": "Skaffa Outlook för {os}",
    "pl": "Pobierz aplikację Outlook dla systemu {os}", "ja": "{os} 版 Outlook を入手",
    "zh": "获取 Outlook for {os}",
}
GALAXY_FOOTER = {
    "en": "Sent from my Galaxy", "de": "Von meinem Galaxy gesendet",
    "fr": "Envoyé depuis mon Galaxy", "es": "Enviado desde mi Galaxy",
    "it": "Inviato dal mio Galaxy", "pl": "Wysłane z mojego Galaxy",
}

# --------------------------------------------------------------------------
# Dates in each client's locale

NOTIFIED = datetime(2026, 3, 3, 10, 2, 14, tzinfo=timezone.utc)

DOW = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "en_long": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "de": ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"],
    "de_long": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    "fr": ["lun", "mar", "mer", "jeu", "ven", "sam", "dim"],
    "fr_long": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "es": ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"],
    "es_long": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
    "it": ["lun", "mar", "mer", "gio", "ven", "sab", "dom"],
    "it_long": ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"],
    "nl": ["ma", "di", "wo", "do", "vr", "za", "zo"],
    "nl_long": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"],
    "pt": ["seg", "ter", "qua", "qui", "sex", "sáb", "dom"],
    "pt_long": ["segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo"],
    "sv": ["mån", "tis", "ons", "tors", "fre", "lör", "sön"],
    "pl": ["pon", "wt", "śr", "czw", "pt", "sob", "niedz"],
    "pl_long": ["poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota", "niedziela"],
    "ja": ["月", "火", "水", "木", "金", "土", "日"],
    "zh": ["一", "二", "三", "四", "五", "六", "日"],
}
MON = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "en_long": ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"],
    "de": ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."],
    "de_long": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                "Oktober", "November", "Dezember"],
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    "fr_long": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                "octobre", "novembre", "décembre"],
    "es": ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"],
    "es_long": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                "octubre", "noviembre", "diciembre"],
    "it": ["gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"],
    "it_long": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
                "settembre", "ottobre", "novembre", "dicembre"],
    "nl": ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
    "nl_long": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
                "september", "oktober", "november", "december"],
    "pt": ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"],
    "pt_long": ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
                "setembro", "outubro", "novembro", "dezembro"],
    "sv": ["jan.", "feb.", "mars", "apr.", "maj", "juni", "juli", "aug.", "sep.", "okt.", "nov.", "dec."],
    "pl": ["sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru"],
    "pl_gen": ["stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
               "września", "października", "listopada", "grudnia"],
}


def d_parts(d):
    return dict(d=d.day, m=d.month, y=d.year, hm=d.strftime("%H:%M"), wd=d.weekday(),
                dd=f"{d.day:02d}", mm=f"{d.month:02d}", yy=f"{d.year % 100:02d}")


def rfc2822(d):
    return d.strftime("%a, %-d %b %Y %H:%M:%S +0000")


# --------------------------------------------------------------------------
# Reply headers ("On ... wrote:") per client and locale

def gmail_attribution(lang, name, addr, d):
    p = d_parts(d)
    wd, mo = p["wd"], p["m"] - 1
    return {
        "en": f"On {DOW['en'][wd]}, {p['d']} {MON['en'][mo]} {p['y']} at {p['hm']}, {name} <{addr}> wrote:",
        "de": f"Am {DOW['de'][wd]}., {p['d']}. {MON['de'][mo]} {p['y']} um {p['hm']} Uhr schrieb {name} <{addr}>:",
        "fr": f"Le {DOW['fr'][wd]}. {p['d']} {MON['fr'][mo]} {p['y']} à {p['hm']}, {name} <{addr}> a écrit :",
        "es": f"El {DOW['es'][wd]}, {p['d']} {MON['es'][mo]} {p['y']} a las {p['hm']}, {name} (<{addr}>) escribió:",
        "it": f"Il giorno {DOW['it'][wd]} {p['d']} {MON['it'][mo]} {p['y']} alle ore {p['hm']} {name} <{addr}> ha scritto:",
        "nl": f"Op {DOW['nl'][wd]} {p['d']} {MON['nl'][mo]} {p['y']} om {p['hm']} schreef {name} <{addr}>:",
        "pt": f"Em {DOW['pt'][wd]}., {p['d']} de {MON['pt'][mo]}. de {p['y']} às {p['hm']}, {name} <{addr}> escreveu:",
        "sv": f"Den {DOW['sv'][wd]} {p['d']} {MON['sv'][mo]} {p['y']} kl {p['hm']} skrev {name} <{addr}>:",
        "pl": f"{DOW['pl'][wd]}., {p['d']} {MON['pl'][mo]} {p['y']} o {p['hm']} {name} <{addr}> napisał(a):",
        "ja": f"{p['y']}年{p['m']}月{p['d']}日({DOW['ja'][wd]}) {p['hm']} {name} <{addr}>:",
        "zh": f"{name} <{addr}> 于{p['y']}年{p['m']}月{p['d']}日周{DOW['zh'][wd]} {p['hm']}写道：",
        "zh-tw": f"{name} <{addr}> 於 {p['y']}年{p['m']}月{p['d']}日 週{DOW['zh'][wd]} 上午{d.hour}:{d.minute:02d}寫道：",
        "ru": f"On {DOW['en'][wd]}, {p['d']} {MON['en'][mo]} {p['y']} at {p['hm']}, {name} <{addr}> wrote:",
    }[lang]


def apple_attribution(lang, name, addr, d):
    p = d_parts(d)
    mo = p["m"] - 1
    return {
        "en": f"On {p['d']} {MON['en'][mo]} {p['y']}, at {p['hm']}, {name} <{addr}> wrote:",
        "de": f"Am {p['dd']}.{p['mm']}.{p['y']} um {p['hm']} schrieb {name} <{addr}>:",
        "fr": f"Le {p['d']} {MON['fr'][mo]} {p['y']} à {p['hm']}, {name} <{addr}> a écrit :",
        "es": f"El {p['d']} {MON['es'][mo]} {p['y']}, a las {p['hm']}, {name} <{addr}> escribió:",
        "it": f"Il giorno {p['d']} {MON['it'][mo]} {p['y']}, alle ore {p['hm']}, {name} <{addr}> ha scritto:",
        "nl": f"Op {p['d']} {MON['nl'][mo]} {p['y']} om {p['hm']} heeft {name} <{addr}> het volgende geschreven:",
        "pt": f"Em {p['d']} de {MON['pt'][mo]}. de {p['y']}, à(s) {p['hm']}, {name} <{addr}> escreveu:",
        "sv": f"{p['d']} {MON['sv'][mo]} {p['y']} kl. {p['hm']} skrev {name} <{addr}>:",
        "pl": f"Wiadomość napisana przez {name} <{addr}> w dniu {p['d']}.{p['mm']}.{p['y']}, o godz. {p['hm']}:",
        "ja": f"{p['y']}/{p['mm']}/{p['dd']} {p['hm']}、{name} <{addr}>のメール:",
        "zh": f"在 {p['y']}年{p['m']}月{p['d']}日，{p['hm']}，{name} <{addr}> 写道：",
        "zh-tw": f"{name} <{addr}> 於 {p['y']}年{p['m']}月{p['d']}日 {p['hm']} 寫道：",
    }[lang]


def thunderbird_attribution(lang, name, d):
    p = d_parts(d)
    return {
        "en": f"On {p['m']}/{p['d']}/{p['yy']} {p['hm']}, {name} wrote:",
        "de": f"Am {p['dd']}.{p['mm']}.{p['yy']} um {p['hm']} schrieb {name}:",
        "fr": f"Le {p['dd']}/{p['mm']}/{p['y']} à {p['hm']}, {name} a écrit :",
        "es": f"El {p['d']}/{p['m']}/{p['yy']} a las {p['hm']}, {name} escribió:",
        "it": f"Il {p['dd']}/{p['mm']}/{p['yy']} {p['hm']}, {name} ha scritto:",
        "nl": f"Op {p['dd']}-{p['mm']}-{p['y']} om {p['hm']} schreef {name}:",
        "pt": f"Em {p['dd']}/{p['mm']}/{p['y']} {p['hm']}, {name} escreveu:",
        "sv": f"Den {p['y']}-{p['mm']}-{p['dd']} kl. {p['hm']}, skrev {name}:",
        "pl": f"W dniu {p['d']}.{p['mm']}.{p['y']} o {p['hm']}, {name} pisze:",
        "ja": f"{p['y']}/{p['mm']}/{p['dd']} {p['hm']}, {name} wrote:",
        "zh": f"在 {p['y']}/{p['m']}/{p['d']} {p['hm']}, {name} 写道:",
        "ru": f"{p['dd']}.{p['mm']}.{p['y']} {p['hm']}, {name} пишет:",
    }[lang]


OUTLOOK_LABELS = {
    # from, sent, to, cc, subject
    "en": ("From", "Sent", "To", "Cc", "Subject"),
    "de": ("Von", "Gesendet", "An", "Cc", "Betreff"),
    "fr": ("De", "Envoyé", "À", "Cc", "Objet"),
    "es": ("De", "Enviado", "Para", "CC", "Asunto"),
    "it": ("Da", "Inviato", "A", "Cc", "Oggetto"),
    "nl": ("Van", "Verzonden", "Aan", "CC", "Onderwerp"),
    "pt": ("De", "Enviado", "Para", "Cc", "Assunto"),
    "sv": ("Från", "Skickat", "Till", "Kopia", "Ämne"),
    "pl": ("Od", "Wysłano", "Do", "DW", "Temat"),
    "ja": ("差出人", "送信日時", "宛先", "CC", "件名"),
    "zh": ("发件人", "发送时间", "收件人", "抄送", "主题"),
    "zh-tw": ("寄件者", "寄件日期", "收件者", "副本", "主旨"),
    "ru": ("От", "Отправлено", "Кому", "Копия", "Тема"),
}
SAMSUNG_ORIGINAL = {
    "en": "Original message", "de": "Ursprüngliche Nachricht", "fr": "Message d'origine",
    "es": "Mensaje original", "it": "Messaggio originale", "pl": "Oryginalna wiadomość",
}
ORIGINAL_MESSAGE = {
    "en": "-----Original Message-----", "de": "-----Ursprüngliche Nachricht-----",
    "fr": "-----Message d'origine-----", "es": "-----Mensaje original-----",
    "it": "-----Messaggio originale-----", "nl": "-----Oorspronkelijk bericht-----",
    "pt": "-----Mensagem original-----", "sv": "-----Ursprungligt meddelande-----",
    "pl": "-----Wiadomość oryginalna-----", "ja": "-----Original Message-----",
    "zh": "-----原始邮件-----",
}


def outlook_date(lang, d):
    p = d_parts(d)
    wd, mo = p["wd"], p["m"] - 1
    hour12 = d.hour % 12 or 12
    return {
        "en": f"{DOW['en_long'][wd]}, {MON['en_long'][mo]} {p['d']}, {p['y']} {hour12}:{d.minute:02d} {'AM' if d.hour < 12 else 'PM'}",
        "de": f"{DOW['de_long'][wd]}, {p['d']}. {MON['de_long'][mo]} {p['y']} {p['hm']}",
        "fr": f"{DOW['fr_long'][wd]} {p['d']} {MON['fr_long'][mo]} {p['y']} {p['hm']}",
        "es": f"{DOW['es_long'][wd]}, {p['d']} de {MON['es_long'][mo]} de {p['y']} {p['hm']}",
        "it": f"{DOW['it_long'][wd]} {p['d']} {MON['it_long'][mo]} {p['y']} {p['hm']}",
        "nl": f"{DOW['nl_long'][wd]} {p['d']} {MON['nl_long'][mo]} {p['y']} {p['hm']}",
        "pt": f"{DOW['pt_long'][wd]}, {p['d']} de {MON['pt_long'][mo]} de {p['y']} {p['hm']}",
        "sv": f"den {p['d']} {MON['sv'][mo].rstrip('.')} {p['y']} {p['hm']}",
        "pl": f"{DOW['pl_long'][wd]}, {p['d']} {MON['pl_gen'][mo]} {p['y']} {p['hm']}",
        "ja": f"{p['y']}年{p['m']}月{p['d']}日 {p['hm']}",
        "zh": f"{p['y']}年{p['m']}月{p['d']}日 {p['hm']}",
        "zh-tw": f"{p['y']}年{p['m']}月{p['d']}日 上午 {p['hm']}",
        "ru": f"{p['d']} марта {p['y']} г. {p['hm']}",
    }[lang]


# --------------------------------------------------------------------------
# MIME writing

def q_word(text, charset):
    """RFC 2047 Q encoded-words, split on character boundaries."""
    def q(ch):
        out = ""
        for byte in ch.encode(charset):
            c = chr(byte)
            if c == " ":
                out += "_"
            elif byte < 128 and (c.isalnum() or c in "!*+-/"):
                out += c
            else:
                out += f"={byte:02X}"
        return out
    words, chunk = [], ""
    for ch in text:
        piece = q(ch)
        if len(chunk) + len(piece) > 45:
            words.append(chunk)
            chunk = ""
        chunk += piece
    words.append(chunk)
    return " ".join(f"=?{charset}?Q?{w}?=" for w in words)


def b_word(text, charset):
    """RFC 2047 B encoded-words, split on character boundaries."""
    words, chunk = [], ""
    for ch in text:
        if len((chunk + ch).encode(charset)) > 42:
            words.append(chunk)
            chunk = ""
        chunk += ch
    words.append(chunk)
    return " ".join(
        f"=?{charset}?B?{base64.b64encode(w.encode(charset)).decode()}?=" for w in words
    )


def iso2022_words(text):
    # ISO-2022-JP words must each return to ASCII; encode whole short runs.
    words, chunk = [], ""
    for ch in text:
        if len(chunk) >= 10:
            words.append(chunk)
            chunk = ""
        chunk += ch
    words.append(chunk)
    return " ".join(
        f"=?ISO-2022-JP?B?{base64.b64encode(w.encode('iso2022_jp')).decode()}?=" for w in words
    )


def header_text(text, charset, enc):
    if all(ord(c) < 128 for c in text):
        return text
    if charset.lower() == "iso-2022-jp":
        return iso2022_words(text)
    return b_word(text, charset) if enc == "B" else q_word(text, charset)


def mailbox(name, addr, charset="utf-8", enc="Q"):
    if not name:
        return addr
    if all(ord(c) < 128 for c in name):
        quoted = f'"{name}"' if any(c in name for c in ",.;:'()") else name
        return f"{quoted} <{addr}>"
    return f"{header_text(name, charset, enc)} <{addr}>"


def fold(name, value):
    """Folds a header at spaces to lines under 78 characters."""
    line = f"{name}: "
    out = []
    for word in value.split(" "):
        if len(line) + len(word) > 76 and line.strip() and not line.endswith(": "):
            out.append(line.rstrip())
            line = " "
        line += word + " "
    out.append(line.rstrip())
    return "\r\n".join(out)


def encode_body(text, charset, cte):
    data = text.replace("\r\n", "\n").encode(charset, errors="strict") if isinstance(text, str) else text
    if cte == "quoted-printable":
        encoded = quopri.encodestring(data).decode("ascii")
        return encoded.replace("\n", "\r\n")
    if cte == "base64":
        return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")
    # 7bit / 8bit: raw lines
    return data.replace(b"\n", b"\r\n")


def part(ctype, text, charset, cte, extra_params="", declared=None):
    """A MIME part; `declared` is the charset the header claims, if it is
    not the one the bytes are in (`""` for none)."""
    head = f"Content-Type: {ctype}"
    label = charset if declared is None else declared
    if label:
        head += f'; charset="{label}"'
    head += extra_params
    lines = [head]
    if cte:
        lines.append(f"Content-Transfer-Encoding: {cte}")
    body = encode_body(text, charset or "utf-8", cte or "7bit")
    header = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return header + (body.encode("ascii") if isinstance(body, str) else body)


def multipart(boundary, parts):
    out = b""
    for p in parts:
        out += f"--{boundary}\r\n".encode() + p + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out


def assemble(headers, ctype_line, body):
    head = "\r\n".join(fold(n, v) if n not in ("Content-Type",) else f"{n}: {v}" for n, v in headers)
    head += f"\r\n{ctype_line}\r\n\r\n"
    return head.encode("ascii") + body


def esc(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


# --------------------------------------------------------------------------
# Cases

@dataclass
class Case:
    category: str
    name: str
    client: str
    tester: Tester
    item: tuple
    lang: str
    paragraphs: list = field(default_factory=list)
    style: str = "top"  # top | inline | bottom | none
    inline: tuple = ()
    to: str = "token"  # token | token-old | plain | forged | expired | altered | other-sender
    irt: bool = True
    refs: bool = True
    subject_token: bool = True
    quote_notification: bool = True
    fmt: str = "alt"  # alt | plain | html
    charset: str = "utf-8"
    cte: str = "quoted-printable"
    signature: str | None = None
    footer: bool = False
    attachment: bool = False
    wrap_header: bool = False
    variant: str = ""
    reply_date: datetime = None
    declared: str | None = None  # charset label when it is not `charset`


def notification_text(lang, tester, item):
    greet, body, questions, close = NOTIFICATION[lang]
    return "\n\n".join([greet.format(first=tester.first), body, "\n".join(questions), close,
                        f"[ref:{item[0]}]", f"-- \n{TEAM_NAME}"])


def notification_html(lang, tester, item):
    greet, body, questions, close = NOTIFICATION[lang]
    return (f"<p>{esc(greet.format(first=tester.first))}</p><p>{esc(body)}</p>"
            f"<p>{'<br>'.join(esc(q) for q in questions)}</p><p>{esc(close)}</p>"
            f"<span style=\"display:none;font-size:0;color:transparent\">[ref:{item[0]}]</span>"
            f"<p>-- <br>{TEAM_NAME}</p>")


def subject_of(case):
    topic = item_topic(case.item)
    base = f"[Lumen beta] {topic}"
    if case.subject_token:
        base += f" [FB-{case.item[0]}]"
    prefix = {"de": "AW: ", "nl": "RE: ", "sv": "SV: ", "pl": "Odp: ", "it": "R: ",
              "fr": "RE : ", "es": "RE: ", "pt": "RE: ", "ja": "RE: ", "zh": "回复: ",
              "zh-tw": "回覆: "}
    if case.client.startswith("outlook"):
        return prefix.get(case.lang, "RE: ") + base
    return "Re: " + base


def item_topic(item):
    return item[1]


def to_address(case):
    item_id = case.item[0]
    t = case.tester.addr
    kind = case.to
    if kind == "plain":
        return MAILBOX, None
    if kind == "token":
        token = mint(item_id, t, VALID_UNTIL, KEY_NEW)
    elif kind == "token-old":
        token = mint(item_id, t, VALID_UNTIL, KEY_OLD)
    elif kind == "expired":
        token = mint(item_id, t, EXPIRED_AT, KEY_NEW)
    elif kind == "forged":
        token = mint(item_id, t, VALID_UNTIL, "an-attacker-guessed-this-key-000")
    elif kind == "altered":
        other = mint("1099", t, VALID_UNTIL, KEY_NEW)
        token = f"{item_id}.{VALID_UNTIL}.{other.rsplit('.', 1)[1]}"
    elif kind == "other-sender":
        token = mint(item_id, "someone.else@example.org", VALID_UNTIL, KEY_NEW)
    else:
        raise ValueError(kind)
    return f"replies+{token}@beta.example.com", token


def expected_match(case):
    """What the configured order (plus-address, in-reply-to, subject,
    body-marker) must find."""
    item_id = case.item[0]
    _, token = to_address(case)
    if case.to in ("token", "token-old"):
        return {"target": item_id, "method": "plus-address", "value": token}
    if case.irt:
        return {"target": item_id, "method": "in-reply-to"}
    if case.refs:
        return {"target": item_id, "method": "references"}
    if case.subject_token:
        return {"target": item_id, "method": "subject"}
    if case.quote_notification and case.style != "none":
        return {"target": item_id, "method": "body-marker"}
    return None


def expected_body(case):
    """The tester's words as the body the mapper reads shows them."""
    if case.style == "inline":
        intro, answers = case.inline
        return "\n\n".join(([intro] if intro else []) + list(answers))
    # Thunderbird's format=flowed soft breaks are undone by the host
    # (RFC 3676), so wrapped paragraphs come back whole.
    return "\n\n".join(case.paragraphs)


def quote_lines(text):
    return "\n".join(">" if not line else f"> {line}" for line in text.split("\n"))


def wrap(text, width=72):
    """Thunderbird's format=flowed wrapping: soft breaks keep a trailing space."""
    out = []
    for para_line in text.split("\n"):
        words, line = para_line.split(" "), ""
        for w in words:
            if line and len(line) + 1 + len(w) > width:
                out.append(line + " ")
                line = w
            else:
                line = f"{line} {w}" if line else w
        out.append(line)
    return "\n".join(out)


def gmail_wrap(header):
    """Gmail hard-wraps a long reply header in the text part, after the `<`
    of the address when the address no longer fits."""
    if len(header) <= 78:
        return header
    at = header.find("<")
    if 0 < at < 77:
        return header[:at + 1] + "\n" + header[at + 1:]
    cut = header.rfind(" ", 0, 78)
    return header[:cut] + "\n" + header[cut + 1:]


def signature_text(case):
    if not case.signature:
        return None
    return case.signature.format(name=case.tester.name)


def build(case):
    """The raw message bytes of one reply case."""
    t, lang, item = case.tester, case.lang, case.item
    notified = NOTIFIED + timedelta(hours=int(item[0]) % 7)
    replied = case.reply_date or (notified + timedelta(days=1 + int(item[0]) % 4, minutes=37))
    to_addr, _ = to_address(case)
    subject = subject_of(case)
    note_text = notification_text(lang, t, item)
    note_html = notification_html(lang, t, item)
    body_paras = "\n\n".join(case.paragraphs)
    sig = signature_text(case)
    cs = case.charset
    enc = "B" if case.client.startswith("gmail") or cs.lower() in ("iso-2022-jp", "gb2312", "big5", "shift_jis") else "Q"
    msgid_local = hashlib.sha1(f"{case.category}/{case.name}".encode()).hexdigest()

    text, html = render(case, body_paras, sig, note_text, note_html, notified)

    headers = []
    client = case.client
    domain = t.addr.split("@")[1]
    headers.append(("Return-Path", f"<{t.addr}>"))
    headers.append(("Delivered-To", MAILBOX))
    headers.append(("Received", f"from mail.{domain} (mail.{domain} [203.0.113.{int(item[0]) % 200 + 10}]) by mx1.beta.example.com (Postfix) with ESMTPS id 4R{msgid_local[:10].upper()} for <{to_addr}>; {rfc2822(replied)}"))
    if case.to != "plain":
        headers.append(("X-Original-To", to_addr))
    headers.append(("MIME-Version", "1.0"))
    if client.startswith("gmail"):
        mid = f"CA{msgid_local[:20]}+{msgid_local[20:32]}@mail.gmail.com"
    elif client.startswith("outlook"):
        mid = f"{msgid_local[:30].upper()}@AM9PR04MB{msgid_local[30:34].upper()}.eurprd04.prod.outlook.com"
    elif client in ("apple-mail", "ios-mail"):
        mid = f"{msgid_local[:8].upper()}-{msgid_local[8:12].upper()}-{msgid_local[12:16].upper()}-{msgid_local[16:28].upper()}@{domain}"
    else:
        mid = f"{msgid_local[:16]}@{domain}"
    notification_id = f"feedback-{item[0]}@notify.beta.example.com"
    digest_id = f"digest-2026-10@notify.beta.example.com"
    if case.refs:
        refs = [digest_id, notification_id] if case.irt else [notification_id, digest_id]
        headers.append(("References", " ".join(f"<{r}>" for r in refs)))
    if case.irt:
        headers.append(("In-Reply-To", f"<{notification_id}>"))
    elif case.refs:
        # Some clients reply to the latest message in a thread: the
        # notification is then only an ancestor.
        headers.append(("In-Reply-To", f"<{digest_id}>"))
    headers.append(("From", mailbox(t.name, t.addr, cs, enc)))
    headers.append(("Date", rfc2822(replied)))
    headers.append(("Message-ID", f"<{mid}>"))
    headers.append(("Subject", header_text(subject, cs, enc)))
    headers.append(("To", mailbox("Lumen Beta", to_addr)))
    if client.startswith("outlook"):
        headers.append(("Thread-Topic", header_text(subject.split(": ", 1)[-1], cs, enc)))
        headers.append(("Accept-Language", {"en": "en-US", "de": "de-DE", "fr": "fr-FR"}.get(lang, "en-US")))
        headers.append(("X-MS-Has-Attach", "yes" if case.attachment else ""))
    if client == "thunderbird":
        headers.append(("User-Agent", "Mozilla Thunderbird"))
        headers.append(("Content-Language", {"zh-tw": "zh-TW"}.get(lang, lang)))
    if client in ("apple-mail", "ios-mail"):
        headers.append(("X-Mailer", "iPhone Mail (22D82)" if client == "ios-mail" else "Apple Mail (2.3826.400.131.1.6)"))
    if client == "android":
        headers.append(("X-Mailer", "Samsung Email"))
    if client == "plain" and case.variant == "mutt":
        headers.append(("User-Agent", "NeoMutt/20250113"))
    headers = [(n, v) for n, v in headers if v != ""]

    text_cte = case.cte
    if text_cte in ("7bit", "8bit"):
        # Clients label a part by what its bytes need.
        text_cte = "7bit" if text.encode(cs).isascii() else "8bit"
    html_cte = "quoted-printable" if case.cte in ("quoted-printable", "8bit", "7bit") else case.cte
    flowed = '; format=flowed' if client == "thunderbird" else ""
    if client == "thunderbird" and case.cte == "8bit":
        html_cte = "8bit"

    parts = []
    if case.fmt in ("alt", "plain"):
        parts.append(part("text/plain", text, cs, text_cte, flowed, declared=case.declared))
    if case.fmt in ("alt", "html"):
        parts.append(part("text/html", html, cs, html_cte, declared=case.declared))
    if len(parts) == 2:
        boundary = f"00000000000{msgid_local[:17]}"
        body = multipart(boundary, parts)
        ctype = f'Content-Type: multipart/alternative; boundary="{boundary}"'
    else:
        raw = parts[0]
        head, body = raw.split(b"\r\n\r\n", 1)
        ctype = head.decode()
    if case.attachment:
        outer = f"_004_{msgid_local[:24].upper()}_"
        inner_head = ctype.encode() + b"\r\n\r\n"
        attachment = (b'Content-Type: text/plain; name="lumen-crash.log"\r\n'
                      b'Content-Disposition: attachment; filename="lumen-crash.log"\r\n'
                      b"Content-Transfer-Encoding: base64\r\n\r\n"
                      + base64.encodebytes(b"2026-03-04 09:12:01 ERROR export: out of memory\n").replace(b"\n", b"\r\n"))
        body = multipart(outer, [inner_head + body, attachment])
        ctype = f'Content-Type: multipart/mixed; boundary="{outer}"'
    return assemble(headers, ctype, body)


def render(case, body_paras, sig, note_text, note_html, notified):
    """(text part, html part) as the client writes them."""
    c, lang = case.client, case.lang
    ui_lang = lang if lang in OUTLOOK_LABELS else "en"
    attribution_fns = {
        "gmail": lambda: gmail_attribution(lang, TEAM_NAME, TEAM_ADDR, notified),
        "apple-mail": lambda: apple_attribution(lang, TEAM_NAME, TEAM_ADDR, notified),
        "ios-mail": lambda: apple_attribution(lang, TEAM_NAME, TEAM_ADDR, notified),
        "thunderbird": lambda: thunderbird_attribution(lang, TEAM_NAME, notified),
        # Mutt's default attribution, which is not localized.
        "plain": lambda: f"On {notified.strftime('%a, %b %d, %Y at %I:%M:%S%p')} +0000, {TEAM_NAME} wrote:",
        "yahoo": lambda: f"On {DOW['en_long'][notified.weekday()]}, {MON['en_long'][notified.month - 1]} {notified.day}, {notified.year} at {notified.strftime('%I:%M:%S %p').lstrip('0')} GMT, {TEAM_NAME} <{TEAM_ADDR}> wrote:",
    }
    family = c.split("-")[0] if c.startswith("gmail") else c
    if c.startswith("outlook") or c == "android":
        return render_outlook(case, body_paras, sig, note_text, note_html, notified, ui_lang)
    attribution = attribution_fns[family]()
    if case.style == "inline":
        return render_inline(case, attribution)

    footer = None
    if case.footer:
        footer = IPHONE_FOOTER[lang] if c == "ios-mail" else None

    # ---- text part
    text = body_paras
    if footer:
        text += "\n\n" + footer
    if sig and c != "apple-mail":
        sig_block = f"-- \n{sig}"
    else:
        sig_block = None
    if case.style == "none":
        if sig_block:
            text += "\n\n" + sig_block
        html = html_body(case, body_paras, footer, sig, "", "")
        return text + "\n", html
    header_text_ = gmail_wrap(attribution) if case.wrap_header else attribution
    if c == "yahoo":
        quoted = "\n".join("    " + l if l else "" for l in [attribution, ""] + note_text.split("\n"))
        text = text + "\n\n\n" + quoted
    elif c in ("apple-mail", "ios-mail") and case.variant != "old-apple":
        text += "\n\n" + quote_lines(attribution + "\n\n" + note_text)
    elif c == "thunderbird":
        text = wrap(text)
        text += "\n\n" + attribution + "\n" + quote_lines(note_text)
        if sig_block:
            text += "\n\n" + sig_block
            sig_block = None
    elif case.style == "bottom":
        text = header_text_ + "\n\n" + quote_lines(note_text) + "\n\n" + text
    else:
        text += "\n\n" + header_text_ + "\n\n" + quote_lines(note_text)
    if sig_block and c != "thunderbird":
        # Gmail puts the signature under the reply, above the quote.
        head, sep, rest = text.partition("\n\n" + header_text_)
        if sep and case.style != "bottom":
            text = head + "\n\n" + sig_block + sep + rest
        else:
            text += "\n\n" + sig_block
    html = html_body(case, body_paras, footer, sig, attribution, note_html)
    return text + "\n", html


def html_lines_div(text, tag="div", attrs=""):
    """Gmail/Apple style: one div per line, <div><br></div> for blank lines."""
    out = []
    for line in text.split("\n"):
        out.append(f"<{tag}{attrs}>{esc(line) if line else '<br>'}</{tag}>")
    return "".join(out)


def html_body(case, body_paras, footer, sig, attribution, note_html):
    c = case.client
    if c.startswith("gmail") or c == "plain":
        sig_html = (f'<span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature">'
                    f'{"<br>".join(esc(l) for l in sig.split(chr(10)))}</div>') if sig else ""
        body = f'<div dir="ltr">{html_lines_div(body_paras)}</div>'
        if sig_html:
            body += f'<br clear="all"><div><br></div>{sig_html}'
        if not attribution:
            return body
        return (body + '<br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
                f"{esc(attribution)}<br></div>"
                '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
                f"{note_html}</blockquote></div>")
    if c == "apple-mail":
        first, _, rest = body_paras.partition("\n")
        body = (f'<html><head><meta http-equiv="content-type" content="text/html; charset={case.charset}"></head>'
                f'<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">'
                f"{esc(first)}{html_lines_div(rest) if rest else ''}")
        if attribution:
            body += (f'<div><br><blockquote type="cite"><div>{esc(attribution)}</div>'
                     f'<br class="Apple-interchange-newline"><div>{note_html}</div></blockquote></div><br>')
        return body + "</body></html>"
    if c == "ios-mail":
        lines = html_lines_div(body_paras, attrs=' dir="ltr"')
        body = (f'<html><head><meta http-equiv="content-type" content="text/html; charset={case.charset}"></head>'
                f'<body dir="auto">{lines}')
        if footer:
            body += (f'<div dir="ltr"><br id="lineBreakAtBeginningOfSignature">'
                     f'<div dir="ltr">{esc(footer)}</div>')
        else:
            body += '<div dir="ltr">'
        if attribution:
            body += (f'<div dir="ltr"><br><blockquote type="cite">{esc(attribution)}<br><br></blockquote></div>'
                     f'<blockquote type="cite"><div dir="ltr">{note_html}</div></blockquote>')
        return body + "</div></body></html>"
    if c == "thunderbird":
        paras = "".join(f"<p>{'<br>'.join(esc(l) for l in p.split(chr(10)))}</p>" for p in body_paras.split("\n\n"))
        body = ('<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\n'
                f"  </head>\n  <body>\n    {paras}\n")
        if attribution:
            body += (f'    <div class="moz-cite-prefix">{esc(attribution)}<br>\n    </div>\n'
                     f'    <blockquote type="cite" cite="mid:feedback-{case.item[0]}@notify.beta.example.com">{note_html}</blockquote>\n')
        if sig:
            body += f'    <br>\n    <pre class="moz-signature" cols="72">-- \n{esc(sig)}</pre>\n'
        return body + "  </body>\n</html>\n"
    if c == "yahoo":
        body = f'<html><head></head><body><div class="ydp1c2b3a4yahoo-style-wrap">{html_lines_div(body_paras)}</div>'
        if attribution:
            body += (f'<div id="yahoo_quoted_1234" class="yahoo_quoted"><div style="font-family:Helvetica">'
                     f"<div>{esc(attribution)}</div><div><br></div>{note_html}</div></div>")
        return body + "</body></html>"
    raise ValueError(c)


def render_inline(case, attribution):
    """Inline answers: each question quoted, the answer below it."""
    c = case.client
    greet, body, questions, close = NOTIFICATION[case.lang]
    intro, answers = case.inline
    text_parts = []
    if intro:
        text_parts.append(intro)
    text_parts.append(attribution)
    text = "\n\n".join(text_parts) + "\n"
    text += quote_lines(greet.format(first=case.tester.first) + "\n\n" + body) + "\n>\n"
    for q, a in zip(questions, answers):
        text += f"> {q}\n\n{a}\n\n"
    text += quote_lines(close) + "\n"
    if case.signature:
        text += "\n-- \n" + case.signature.format(name=case.tester.name) + "\n"
    # HTML as Gmail (and, with their own containers, others) writes it.
    if c == "thunderbird":
        html = (f"<html><body>{'<p>' + esc(intro) + '</p>' if intro else ''}"
                f'<div class="moz-cite-prefix">{esc(attribution)}<br></div>'
                f'<blockquote type="cite"><p>{esc(greet.format(first=case.tester.first))}</p><p>{esc(body)}</p></blockquote>')
        for q, a in zip(questions, answers):
            html += f'<blockquote type="cite">{esc(q)}</blockquote><p>{esc(a)}</p>'
        html += f'<blockquote type="cite"><p>{esc(close)}</p></blockquote></body></html>'
    else:
        html = f'<div dir="ltr">{html_lines_div(intro) if intro else ""}</div>'
        html += (f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{esc(attribution)}<br></div>'
                 f'<blockquote class="gmail_quote"><div>{esc(greet.format(first=case.tester.first))}</div><div><br></div><div>{esc(body)}</div></blockquote>')
        for q, a in zip(questions, answers):
            html += f'<blockquote class="gmail_quote"><div>{esc(q)}</div></blockquote><div><br></div><div>{esc(a)}</div><div><br></div>'
        html += f'<blockquote class="gmail_quote"><div>{esc(close)}</div></blockquote></div>'
    return text, html


def render_outlook(case, body_paras, sig, note_text, note_html, notified, ui_lang):
    c, t = case.client, case.tester
    lab = OUTLOOK_LABELS[ui_lang]
    sent = outlook_date(ui_lang, notified)
    sep = " :" if ui_lang == "fr" else ":"
    subject_line = f"[Lumen beta] {item_topic(case.item)}" + (f" [FB-{case.item[0]}]" if case.subject_token else "")
    block = [f"{lab[0]}{sep} {TEAM_NAME} <{TEAM_ADDR}>", f"{lab[1]}{sep} {sent}",
             f"{lab[2]}{sep} {t.name} <{t.addr}>", f"{lab[4]}{sep} {subject_line}"]
    if sig:
        raise ValueError("Outlook signatures have no `-- `: keep sign-offs in the paragraphs")
    footer = None
    if case.footer:
        os_name = "Android" if case.variant == "android" else "iOS"
        table = OUTLOOK_MOBILE_FOOTER if c == "outlook-mobile" else GALAXY_FOOTER
        footer = table.get(ui_lang, table["en"]).format(os=os_name)
    if c == "android":
        # Samsung Email
        head = f"-------- {SAMSUNG_ORIGINAL.get(ui_lang, SAMSUNG_ORIGINAL['en'])} --------"
        date_label = {"en": "Date", "de": "Datum", "fr": "Date", "es": "Fecha", "it": "Data", "pl": "Data"}.get(ui_lang, "Date")
        sblock = [f"{lab[0]}: {TEAM_NAME} <{TEAM_ADDR}> ", f"{date_label}: {notified.strftime('%d/%m/%Y %H:%M')} (GMT+00:00) ",
                  f"{lab[2]}: {t.name} <{t.addr}> ", f"{lab[4]}: {subject_line} "]
        text = body_paras + ("\n\n\n" + footer if footer else "") + "\n\n\n" + head + "\n" + "\n".join(sblock) + "\n\n" + note_text + "\n"
        html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body dir="auto">'
                + html_lines_div(body_paras, attrs=' dir="auto"')
                + (f'<div dir="auto"><br></div><div dir="auto"><br></div><div id="composer_signature" dir="auto"><div style="font-size:85%;color:#575757" dir="auto">{esc(footer)}</div></div>' if footer else "")
                + f'<div><br></div><div align="left" dir="auto" style="font-size:100%;color:#000000"><div>{esc(head)}</div><div>'
                + "</div><div>".join(esc(l) for l in sblock)
                + f"</div><div><br></div></div>{note_html}</body></html>")
        return text, html
    if c == "outlook-desktop" and case.variant == "plain-compose":
        original = ORIGINAL_MESSAGE.get(ui_lang, ORIGINAL_MESSAGE["en"])
        text = body_paras + "\n\n" + original + "\n" + "\n".join(block) + "\n\n" + note_text + "\n"
        return text, None
    if c == "outlook-desktop":
        text = body_paras + "\n\n" + "\n".join(block) + "\n\n" + note_text + "\n"
        if case.variant == "underscore":
            text = body_paras + "\n\n" + "_" * 32 + "\n" + "\n".join(block) + "\n\n" + note_text + "\n"
        paras = []
        for i, p in enumerate(body_paras.split("\n\n")):
            if i:
                paras.append('<p class="MsoNormal"><o:p>&nbsp;</o:p></p>')
            for line in p.split("\n"):
                paras.append(f'<p class="MsoNormal"><span lang="{ui_lang.upper()}">{esc(line)}</span><o:p></o:p></p>')
        html = ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
                'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
                'xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
                '<meta name="Generator" content="Microsoft Word 15 (filtered medium)"><style><!--\n'
                '@font-face\n\t{font-family:"Cambria Math";}\np.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{margin:0cm;font-size:11.0pt;font-family:"Calibri",sans-serif;}\n'
                '--></style></head><body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">'
                '<div class="WordSection1">' + "\n".join(paras)
                + '\n<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n'
                '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
                f'<p class="MsoNormal"><b>{esc(lab[0])}{sep}</b> {esc(TEAM_NAME)} &lt;{TEAM_ADDR}&gt; <br>'
                f'<b>{esc(lab[1])}{sep}</b> {esc(sent)}<br><b>{esc(lab[2])}{sep}</b> {esc(t.name)} &lt;{t.addr}&gt;<br>'
                f'<b>{esc(lab[4])}{sep}</b> {esc(subject_line)}<o:p></o:p></p>\n</div>\n'
                f'<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n{note_html}\n</div></body></html>')
        return text, html
    # Outlook on the web and mobile
    divider = "_" * 32
    if footer:
        text = f"{body_paras}\n\n{footer}<https://aka.ms/o0ukef>\n{divider}\n"
    else:
        text = f"{body_paras}\n\n{divider}\n"
    text += "\n".join(block) + "\n\n" + note_text + "\n"
    lines = "".join(
        f'<div class="elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">{esc(l) if l else "<br>"}</div>'
        for l in body_paras.split("\n"))
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head>'
            f'<body dir="ltr">{lines}')
    if footer:
        linked = esc(footer).replace("Outlook", '<a href="https://aka.ms/o0ukef">Outlook</a>', 1)
        html += f'<div id="ms-outlook-mobile-signature"><div><br></div>{linked}</div>'
    if c == "outlook-web":
        html += '<div id="appendonsend"></div>'
    html += ('<hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr">'
             '<font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
             f'<b>{esc(lab[0])}{sep}</b> {esc(TEAM_NAME)} &lt;{TEAM_ADDR}&gt;<br><b>{esc(lab[1])}{sep}</b> {esc(sent)}<br>'
             f'<b>{esc(lab[2])}{sep}</b> {esc(t.name)} &lt;{t.addr}&gt;<br><b>{esc(lab[4])}{sep}</b> {esc(subject_line)}</font>'
             f'<div>&nbsp;</div></div><div>{note_html}</div></body></html>')
    return text, html


# --------------------------------------------------------------------------
# Machine-sent mail: auto-replies, bounces, bulk, loops

def machine_message(headers, ctype, body):
    return assemble(headers, ctype, body)


OOF = {
    # lang: (subject prefix, body)
    "en": ("Automatic reply", "Thank you for your message. I am out of the office until 16 March with limited access to email."),
    "de": ("Automatische Antwort", "Vielen Dank für Ihre Nachricht. Ich bin bis zum 16. März nicht im Büro."),
    "fr": ("Réponse automatique", "Merci pour votre message. Je suis absente jusqu'au 16 mars."),
    "es": ("Respuesta automática", "Gracias por su mensaje. Estoy fuera de la oficina hasta el 16 de marzo."),
    "it": ("Risposta automatica", "Grazie per il messaggio. Sono fuori ufficio fino al 16 marzo."),
    "nl": ("Automatisch antwoord", "Bedankt voor je bericht. Ik ben afwezig tot 16 maart."),
    "pt": ("Resposta automática", "Obrigado pela mensagem. Estou fora do escritório até 16 de março."),
    "sv": ("Automatiskt svar", "Tack för ditt mejl. Jag är tillbaka den 16 mars."),
    "pl": ("Odpowiedź automatyczna", "Dziękuję za wiadomość. Jestem poza biurem do 16 marca."),
    "ja": ("自動応答", "メールありがとうございます。3月16日まで不在にしております。"),
    "zh": ("自动回复", "您好，我将于3月16日返回办公室，期间回复可能延迟。"),
}


def oof_case(name, lang, kind):
    """Auto-replies as Exchange, Gmail, and various servers send them."""
    t = TESTERS[lang][0]
    item = ITEMS[(len(name) + len(lang)) % len(ITEMS)]
    prefix, text = OOF[lang]
    subject_orig = f"[Lumen beta] {item[1]} [FB-{item[0]}]"
    to_addr = f"replies+{mint(item[0], t.addr, VALID_UNTIL, KEY_NEW)}@beta.example.com"
    headers = [("Return-Path", f"<{t.addr}>"), ("Delivered-To", MAILBOX), ("MIME-Version", "1.0"),
               ("From", mailbox(t.name, t.addr)), ("To", mailbox(None, to_addr)),
               ("Date", rfc2822(NOTIFIED + timedelta(minutes=1))),
               ("Message-ID", f"<oof-{hashlib.sha1(name.encode()).hexdigest()[:16]}@{t.addr.split('@')[1]}>"),
               ("In-Reply-To", f"<feedback-{item[0]}@notify.beta.example.com>")]
    if kind == "exchange":
        headers += [("Subject", header_text(f"{prefix}: {subject_orig}", "utf-8", "Q")),
                    ("Thread-Topic", header_text(subject_orig, "utf-8", "Q")),
                    ("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"),
                    ("X-MS-Exchange-Inbox-Rules-Loop", t.addr)]
    elif kind == "gmail-vacation":
        headers += [("Subject", header_text(f"{prefix}: {subject_orig}" if lang != "en" else "Out of office until 16 March", "utf-8", "B")),
                    ("Auto-Submitted", "auto-replied"), ("Precedence", "bulk")]
    elif kind == "subject-only":
        headers += [("Subject", header_text(f"{prefix}: {subject_orig}", "utf-8", "Q"))]
    elif kind == "x-autoreply":
        headers += [("Subject", f"Re: {subject_orig}"), ("X-Autoreply", "yes")]
    elif kind == "x-autorespond":
        headers += [("Subject", f"Re: {subject_orig}"), ("X-Autorespond", subject_orig)]
    elif kind == "precedence":
        headers += [("Subject", f"Re: {subject_orig}"), ("Precedence", "auto_reply")]
    elif kind == "auto-submitted-no-subject-hint":
        headers += [("Subject", f"Re: {subject_orig}"), ("Auto-Submitted", "auto-replied (vacation)")]
    else:
        raise ValueError(kind)
    body = encode_body(text + "\n", "utf-8", "quoted-printable").encode("ascii")
    return machine_message(headers, 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable', body)


def read_receipt():
    t = TESTERS["de"][0]
    boundary = "----=_Part_MDN_4711"
    human = "Ihre Nachricht wurde am 04.03.2026 um 09:12 gelesen.\n"
    report = ("Reporting-UA: mail.example.de; Microsoft Outlook 16.0\nFinal-Recipient: rfc822;" + t.addr +
              "\nOriginal-Message-ID: <feedback-1045@notify.beta.example.com>\nDisposition: manual-action/MDN-sent-manually; displayed\n")
    parts = [part("text/plain", human, "utf-8", "quoted-printable"),
             part("message/disposition-notification", report, None, "7bit")]
    headers = [("Return-Path", f"<{t.addr}>"), ("MIME-Version", "1.0"), ("From", mailbox(t.name, t.addr)),
               ("To", "Lumen Beta <replies@beta.example.com>"), ("Date", rfc2822(NOTIFIED + timedelta(days=1))),
               ("Subject", "Gelesen: [Lumen beta] Dark mode contrast in the sidebar [FB-1045]"),
               ("Message-ID", "<mdn-4711@example.de>"), ("In-Reply-To", "<feedback-1045@notify.beta.example.com>")]
    return machine_message(headers, f'Content-Type: multipart/report; report-type=disposition-notification;\r\n\tboundary="{boundary}"',
                           multipart(boundary, parts))


def bounce(kind):
    rcpt = "dana.whitfield@example.org"
    boundary = f"{kind}-DSN-20260303"
    original = ("From: Lumen Beta Team <beta@notify.beta.example.com>\nTo: " + rcpt +
                "\nSubject: [Lumen beta] PDF export crashes on large projects [FB-1042]\n"
                "Message-ID: <feedback-1042@notify.beta.example.com>\nReply-To: replies@beta.example.com\n")
    dsn = f"Reporting-MTA: dns; mx.example.org\nArrival-Date: {rfc2822(NOTIFIED)}\n\nFinal-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\n"
    if kind == "postfix":
        sender = ("Mail Delivery System", "MAILER-DAEMON@mx.example.org")
        human = f"This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n<{rcpt}>: host mx.example.org said: 550 5.1.1 User unknown\n"
        subject = "Undelivered Mail Returned to Sender"
        extra = [("Auto-Submitted", "auto-replied")]
    elif kind == "exchange":
        sender = ("Microsoft Outlook", "postmaster@example.onmicrosoft.com")
        human = f"Delivery has failed to these recipients or groups:\n\n{rcpt}\nThe email address you entered couldn't be found.\n"
        subject = "Undeliverable: [Lumen beta] PDF export crashes on large projects [FB-1042]"
        extra = [("X-MS-Exchange-Message-Is-Ndr", ""), ("Auto-Submitted", "auto-replied")]
    elif kind == "gmail":
        sender = ("Mail Delivery Subsystem", "mailer-daemon@googlemail.com")
        human = f"** Address not found **\n\nYour message wasn't delivered to {rcpt} because the address couldn't be found, or is unable to receive mail.\n"
        subject = "Delivery Status Notification (Failure)"
        extra = [("X-Failed-Recipients", rcpt), ("Auto-Submitted", "auto-replied")]
    elif kind == "exim":
        sender = ("Mail Delivery System", "Mailer-Daemon@mail.example.net")
        human = f"This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  {rcpt}\n    retry timeout exceeded\n"
        subject = "Mail delivery failed: returning message to sender"
        extra = [("X-Failed-Recipients", rcpt), ("Auto-Submitted", "auto-replied")]
        headers = [("Return-Path", "<>"), ("MIME-Version", "1.0"), ("From", mailbox(*sender)), ("To", MAILBOX),
                   ("Subject", subject), ("Date", rfc2822(NOTIFIED + timedelta(minutes=5))),
                   ("Message-ID", "<E1tAbCd-0001xY-9z@mail.example.net>")] + extra
        body = encode_body(human + "\n------ This is a copy of the message, including all the headers. ------\n\n" + original, "us-ascii", "7bit")
        return machine_message(headers, "Content-Type: text/plain; charset=us-ascii", body)
    elif kind == "null-from":
        # A mail-filter appliance's own notice: multipart/mixed, no report
        # type, no MAILER-DAEMON name, only `From: <>` gives it away.
        boundary = "gw-notice-20260303"
        headers = [("MIME-Version", "1.0"), ("From", "<>"), ("To", MAILBOX),
                   ("Subject", "Delivery Status"), ("Date", rfc2822(NOTIFIED + timedelta(minutes=4))),
                   ("Message-ID", "<gw-notice-20260303@gw.example.org>")]
        human = f"    --- These recipients could not be reached ---\n\n<{rcpt}>   (mailbox unavailable)\n"
        parts = [part("text/plain", human, "us-ascii", "7bit"), part("text/rfc822-headers", original, None, "7bit")]
        return machine_message(headers, f'Content-Type: multipart/mixed;\r\n\tboundary="{boundary}"',
                               multipart(boundary, parts))
    elif kind == "carrier-notice":
        # A carrier's own notice: no report structure, no daemon name, an
        # ordinary-looking sender; only the null envelope sender says it.
        headers = [("Return-Path", "<>"), ("MIME-Version", "1.0"), ("From", "Message Centre <notices@carrier.example.net>"),
                   ("To", MAILBOX), ("Subject", "Undeliverable message"), ("Date", rfc2822(NOTIFIED + timedelta(minutes=6))),
                   ("Message-ID", "<ndr-20260303-77@carrier.example.net>")]
        human = f"Your message to {rcpt} could not be delivered to the handset.\nNo valid recipients.\n\n" + original
        return machine_message(headers, "Content-Type: text/plain; charset=us-ascii", encode_body(human, "us-ascii", "7bit"))
    elif kind == "bare-daemon":
        # sendmail's local notice: `<MAILER-DAEMON>` without a domain.
        headers = [("MIME-Version", "1.0"), ("From", "Mail Delivery Subsystem <MAILER-DAEMON>"), ("To", MAILBOX),
                   ("Subject", "Returned mail: see transcript for details"), ("Date", rfc2822(NOTIFIED + timedelta(minutes=7))),
                   ("Message-ID", "<202603031009.sendmail@mx.example.org>")]
        human = f"The original message was received at {rfc2822(NOTIFIED)}\n\n   ----- The following addresses had permanent fatal errors -----\n<{rcpt}>\n"
        return machine_message(headers, "Content-Type: text/plain; charset=us-ascii", encode_body(human, "us-ascii", "7bit"))
    elif kind == "qmail":
        # No report structure at all: only the sender gives it away.
        sender = (None, "postmaster@mail.example.com")
        headers = [("Return-Path", "<>"), ("MIME-Version", "1.0"), ("From", sender[1]), ("To", MAILBOX),
                   ("Subject", "failure notice"), ("Date", rfc2822(NOTIFIED + timedelta(minutes=3))),
                   ("Message-ID", "<20260303100517.qmail@mail.example.com>")]
        human = f"Hi. This is the qmail-send program at mail.example.com.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<{rcpt}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n" + original
        return machine_message(headers, "Content-Type: text/plain; charset=us-ascii", encode_body(human, "us-ascii", "7bit"))
    else:
        raise ValueError(kind)
    headers = [("Return-Path", "<>"), ("MIME-Version", "1.0"), ("From", mailbox(*sender)),
               ("To", MAILBOX), ("Subject", subject), ("Date", rfc2822(NOTIFIED + timedelta(minutes=2))),
               ("Message-ID", f"<{kind}-bounce-20260303@mx.example.org>")] + [(n, v) for n, v in extra if v]
    parts = [part("text/plain", human, "us-ascii", "7bit"), part("message/delivery-status", dsn, None, "7bit"),
             part("text/rfc822-headers", original, None, "7bit")]
    return machine_message(headers, f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
                           multipart(boundary, parts))


def bulk(kind):
    if kind == "newsletter":
        headers = [("MIME-Version", "1.0"), ("From", "Example Cloud <news@mailer.example-cloud.com>"),
                   ("To", MAILBOX), ("Subject", "Your March product update"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<nl-2026-03@mailer.example-cloud.com>"),
                   ("List-Unsubscribe", "<https://mailer.example-cloud.com/u/7f3a>, <mailto:unsub-7f3a@mailer.example-cloud.com>"),
                   ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"), ("Precedence", "bulk")]
        text = "New this month: faster dashboards and a redesigned billing page.\n"
    elif kind == "list-reply":
        t = TESTERS["en"][1]
        headers = [("MIME-Version", "1.0"), ("From", mailbox(t.name, t.addr)),
                   ("To", "Lumen testers <testers@lists.beta.example.com>"), ("Cc", MAILBOX),
                   ("Subject", "Re: [lumen-testers] Build 412 is out [FB-1042]"), ("Date", rfc2822(NOTIFIED + timedelta(hours=5))),
                   ("Message-ID", "<list-reply-1@example.net>"), ("In-Reply-To", "<feedback-1042@notify.beta.example.com>"),
                   ("List-Id", "Lumen beta testers <testers.lists.beta.example.com>"),
                   ("List-Post", "<mailto:testers@lists.beta.example.com>"), ("Precedence", "list")]
        text = "Works for me too.\n"
    elif kind == "junk":
        headers = [("MIME-Version", "1.0"), ("From", "Deals <deals@promo.example.biz>"), ("To", MAILBOX),
                   ("Subject", "Last chance: 70% off"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<promo-99@promo.example.biz>"), ("Precedence", "junk")]
        text = "Don't miss out.\n"
    elif kind == "no-reply":
        # A service's notification from an address nobody reads.
        headers = [("MIME-Version", "1.0"), ("From", "Cloud Alerts <no-reply@alerts.example-cloud.com>"), ("To", MAILBOX),
                   ("Subject", "Re: [FB-1042] your export job finished"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<alert-5521@alerts.example-cloud.com>")]
        text = "Export job 5521 finished in 4 minutes.\n"
    elif kind == "list-id-only":
        headers = [("MIME-Version", "1.0"), ("From", "GitHub <notifications@github.example.com>"), ("To", MAILBOX),
                   ("Subject", "Re: [lumen/app] Export crash (#1042)"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<lumen/app/issues/1042/comment@github.example.com>"),
                   ("List-ID", "lumen/app <app.lumen.github.example.com>")]
        text = "Closed via #1101.\n"
    else:
        raise ValueError(kind)
    return machine_message(headers, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit",
                           encode_body(text, "utf-8", "7bit"))


def loop(kind):
    if kind == "forwarded-to-self":
        headers = [("MIME-Version", "1.0"), ("From", f"Lumen Beta <{MAILBOX}>"), ("To", MAILBOX),
                   ("Subject", "Fwd: [Lumen beta] PDF export crashes [FB-1042]"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<fwd-self-1@beta.example.com>"), ("In-Reply-To", "<feedback-1042@notify.beta.example.com>")]
    elif kind == "plus-self":
        headers = [("MIME-Version", "1.0"), ("From", f"replies+1042@beta.example.com"), ("To", MAILBOX),
                   ("Subject", "Re: [Lumen beta] Sync stalls after resume [FB-1043]"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<plus-self-1@beta.example.com>")]
    elif kind == "case-self":
        headers = [("MIME-Version", "1.0"), ("From", "REPLIES@Beta.Example.com"), ("To", MAILBOX),
                   ("Subject", "Re: [Lumen beta] Dark mode [FB-1045]"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<case-self-1@beta.example.com>")]
    else:
        raise ValueError(kind)
    return machine_message(headers, "Content-Type: text/plain; charset=utf-8", encode_body("See below.\n", "utf-8", "7bit"))


def no_sender(kind):
    # Mail that names no author address: a From with only a name, an empty
    # From, none at all. The text would be a reply, but there is nobody to
    # attribute it to.
    headers = [("MIME-Version", "1.0"), ("To", MAILBOX),
               ("Subject", "Re: [Lumen beta] PDF export crashes on large projects [FB-1042]"),
               ("Date", rfc2822(NOTIFIED + timedelta(hours=2))), ("Message-ID", f"<{kind}-7@relay.example.net>"),
               ("In-Reply-To", "<feedback-1042@notify.beta.example.com>")]
    if kind == "name-only":
        headers.insert(1, ("From", "Lumen tester"))
    elif kind == "empty-from":
        headers.insert(1, ("From", ""))
    elif kind != "no-from":
        raise ValueError(kind)
    text = "Still crashes with build 412, same project as before.\n"
    return machine_message(headers, "Content-Type: text/plain; charset=utf-8", encode_body(text, "utf-8", "7bit"))


def no_match(kind):
    t = TESTERS["en"][3]
    if kind == "new-thread":
        headers = [("MIME-Version", "1.0"), ("From", mailbox(t.name, t.addr)), ("To", MAILBOX),
                   ("Subject", "Can I join the beta?"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<join-1@example.co.uk>")]
        text = "Hello,\n\nA colleague told me about the Lumen beta. How do I sign up?\n\nTom\n"
    elif kind == "other-thread":
        headers = [("MIME-Version", "1.0"), ("From", mailbox(t.name, t.addr)), ("To", MAILBOX),
                   ("Subject", "Re: invoice March"), ("Date", rfc2822(NOTIFIED)),
                   ("Message-ID", "<inv-2@example.co.uk>"), ("In-Reply-To", "<invoice-2026-03@billing.example.com>"),
                   ("References", "<invoice-2026-03@billing.example.com>")]
        text = "Paid yesterday, see attached receipt.\n\nOn Mon, 2 Mar 2026 at 09:00, Billing <billing@example.com> wrote:\n> Your invoice is ready.\n"
    else:
        raise ValueError(kind)
    return machine_message(headers, "Content-Type: text/plain; charset=utf-8", encode_body(text, "utf-8", "7bit"))


# --------------------------------------------------------------------------
# The case list

def t(lang, i=0):
    return TESTERS[lang][i % len(TESTERS[lang])]


def reply(lang, i=0):
    pool = REPLIES[lang]
    return pool[i % len(pool)]


def cases():
    out = []
    item = lambda i: ITEMS[i % len(ITEMS)]

    def add(category, name, client, lang, i=0, tester=None, **kw):
        tester = tester or t(lang, i)
        names = dict(first=tester.first, name=tester.name, cjkname=tester.name.replace(" ", ""))
        paragraphs = [p.format(**names) for p in reply(lang, i)]
        out.append(Case(category=category, name=name, client=client, tester=tester,
                        item=kw.pop("item", item(i + len(out))), lang=lang, paragraphs=paragraphs, **kw))

    # Gmail (web and apps), top-posted, every language.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "ja", "zh", "zh-tw"]):
        add("gmail", f"top-{lang}", "gmail", lang, i, wrap_header=(i % 2 == 0),
            cte="base64" if lang in ("ja", "zh", "zh-tw") else "quoted-printable")
    for i in range(4):
        add("gmail", f"top-en-{i + 2}", "gmail", "en", i + 1, wrap_header=True,
            signature=SIGNATURES["en"][i % 2] if i % 2 == 0 else None,
            to=["token", "plain", "token-old", "plain"][i], irt=(i != 3), attachment=(i == 1))
    add("gmail", "bottom-post-en", "gmail", "en", 5, style="bottom")
    add("gmail", "no-quote-en", "gmail", "en", 2, style="none", to="plain")
    add("gmail", "signature-de", "gmail", "de", 1, signature=SIGNATURES["de"][0], wrap_header=True)

    # Inline replies.
    for i, lang in enumerate(["en", "de", "fr", "es", "nl", "sv", "ja"]):
        answers = INLINE_ANSWERS[lang][0]
        intro = {"en": "Answers below.", "de": "Antworten unten.", "fr": "Réponses ci-dessous.",
                 "nl": "Antwoorden hieronder.", "ja": "回答は以下の通りです。"}.get(lang, "")
        client = ["gmail", "thunderbird", "plain"][i % 3]
        add("inline", f"{client}-{lang}", client, lang, i, style="inline", inline=(intro, answers),
            fmt="plain" if client == "plain" else "alt",
            signature=SIGNATURES.get(lang, ["{name}"])[0] if i % 2 else None, variant="mutt" if client == "plain" else "",
            to="plain" if i % 3 == 2 else "token")
    add("inline", "gmail-en-2", "gmail", "en", 3, style="inline", inline=("", INLINE_ANSWERS["en"][1]))

    # Outlook desktop (Windows/Mac), localized header blocks.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "ja", "zh", "zh-tw"]):
        add("outlook-desktop", f"reply-{lang}", "outlook-desktop", lang, i + 3,
            to="plain" if i % 3 else "token", variant="underscore" if i % 4 == 3 else "",
            attachment=(i % 5 == 1))
    for i, lang in enumerate(["en", "de", "fr", "pl"]):
        add("outlook-desktop", f"plain-compose-{lang}", "outlook-desktop", lang, i, variant="plain-compose",
            fmt="plain", to="plain",
            charset={"en": "us-ascii", "de": "windows-1252", "fr": "iso-8859-1", "pl": "windows-1250"}[lang],
            cte="quoted-printable")

    # Outlook on the web.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "ja"]):
        add("outlook-web", f"reply-{lang}", "outlook-web", lang, i + 1, to="token" if i % 2 else "plain",
            irt=(i != 4), subject_token=(i != 6))

    # Outlook mobile.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "ja", "zh"]):
        add("outlook-mobile", f"{'android' if i % 2 else 'ios'}-{lang}", "outlook-mobile", lang, i + 2,
            footer=True, variant="android" if i % 2 else "ios")

    # Apple Mail (macOS) and iPhone Mail.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "ja", "zh"]):
        add("apple-mail", f"mac-{lang}", "apple-mail", lang, i + 4, variant="old-apple" if i % 3 == 2 else "",
            cte="quoted-printable" if i % 2 else "8bit")
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "ja", "zh", "zh-tw"]):
        add("ios-mail", f"iphone-{lang}", "ios-mail", lang, i, footer=(i != 5),
            to="token" if i % 4 else "plain", irt=(i % 5 != 4))

    # Thunderbird.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "zh"]):
        add("thunderbird", f"reply-{lang}", "thunderbird", lang, i + 2, cte="8bit",
            signature=SIGNATURES.get(lang, ["{name}"])[0] if i % 2 == 0 else None)

    # Android: Samsung Email.
    for i, lang in enumerate(["en", "de", "fr", "es", "it", "pl"]):
        add("android", f"samsung-{lang}", "android", lang, i + 1, footer=(i % 2 == 0), to="plain")

    # Yahoo web mail.
    add("yahoo", "reply-en", "yahoo", "en", 6)
    add("yahoo", "reply-en-2", "yahoo", "en", 7, to="plain")

    # HTML-only: the same clients without a text part.
    for i, (client, lang) in enumerate([("gmail", "en"), ("gmail", "de"), ("apple-mail", "fr"), ("ios-mail", "es"),
                                        ("thunderbird", "en"), ("outlook-web", "en"), ("outlook-desktop", "de"),
                                        ("outlook-mobile", "it"), ("yahoo", "en"), ("thunderbird", "nl"),
                                        ("gmail", "ja"), ("ios-mail", "zh")]):
        add("html-only", f"{client}-{lang}", client, lang, i + 1, fmt="html",
            footer=client in ("ios-mail", "outlook-mobile"), to="plain" if i % 3 == 0 else "token",
            signature="{name}" if client == "thunderbird" else None)

    # Plain-text-only clients.
    for i, lang in enumerate(["en", "de", "fr", "en", "en", "en"]):
        add("plain-only", f"mutt-{lang}-{i}", "plain", lang, i, fmt="plain", variant="mutt", cte="8bit",
            signature=SIGNATURES.get(lang, ["{name}"])[0] if i % 2 else None, style="bottom" if i == 4 else "top",
            to="plain" if i % 2 else "token")

    # Charsets and encodings.
    add("charset", "iso-2022-jp-gmail", "gmail", "ja", 0, fmt="plain", charset="ISO-2022-JP", cte="7bit", tester=t("ja", 1))
    add("charset", "iso-2022-jp-thunderbird", "thunderbird", "ja", 1, fmt="plain", charset="ISO-2022-JP", cte="7bit")
    add("charset", "shift-jis-outlook", "outlook-desktop", "ja", 0, charset="shift_jis", cte="base64")
    add("charset", "gb2312-outlook", "outlook-desktop", "zh", 0, charset="gb2312", cte="base64")
    add("charset", "gb2312-iphone", "ios-mail", "zh", 1, charset="gb2312", cte="base64", footer=True)
    add("charset", "big5-outlook", "outlook-web", "zh-tw", 0, charset="big5", cte="base64")
    add("charset", "koi8-r-thunderbird", "thunderbird", "ru", 0, fmt="plain", charset="koi8-r", cte="8bit")
    add("charset", "windows-1252-outlook", "outlook-desktop", "fr", 0, charset="windows-1252", cte="quoted-printable")
    add("charset", "iso-8859-1-apple", "apple-mail", "de", 3, charset="iso-8859-1", cte="quoted-printable")
    add("charset", "iso-8859-2-thunderbird", "thunderbird", "pl", 0, charset="iso-8859-2", cte="8bit", fmt="plain")
    add("charset", "iso-8859-15-mutt", "plain", "fr", 1, charset="iso-8859-15", cte="8bit", fmt="plain", variant="mutt")
    add("charset", "utf-8-base64-gmail-es", "gmail", "es", 0, cte="base64")
    # Missing and wrong charset declarations.
    add("charset", "no-charset-latin1-mutt", "plain", "de", 0, charset="iso-8859-1", declared="", cte="8bit",
        fmt="plain", variant="mutt")
    add("charset", "no-charset-utf8-mutt", "plain", "fr", 2, declared="", cte="8bit", fmt="plain", variant="mutt")
    add("charset", "latin1-declared-utf8-bytes", "plain", "es", 0, declared="iso-8859-1", cte="quoted-printable",
        fmt="plain", variant="mutt")
    add("charset", "html-meta-charset-only", "apple-mail", "fr", 0, charset="windows-1252", declared="", fmt="html",
        cte="quoted-printable")

    # Matching signals and signed tokens.
    m = lambda name, i, **kw: add("matching", name, kw.pop("client", "gmail"), "en", i, **kw)
    m("token-rotated-key", 0, to="token-old", irt=False, refs=False)
    m("token-forged-falls-back-to-in-reply-to", 1, to="forged")
    m("token-altered-falls-back-to-subject", 2, to="altered", irt=False, refs=False)
    m("token-expired-falls-back-to-references", 3, to="expired", irt=False)
    m("token-other-sender-falls-back-to-body-marker", 4, to="other-sender", irt=False, refs=False, subject_token=False)
    m("references-only", 5, to="plain", irt=False, client="apple-mail")
    m("subject-only", 6, to="plain", irt=False, refs=False, client="outlook-web")
    m("body-marker-only", 7, to="plain", irt=False, refs=False, subject_token=False, client="thunderbird")
    m("body-marker-only-outlook", 0, to="plain", irt=False, refs=False, subject_token=False, client="outlook-desktop")
    m("forged-token-nothing-else", 1, to="forged", irt=False, refs=False, subject_token=False, style="none")
    m("expired-token-nothing-else", 2, to="expired", irt=False, refs=False, subject_token=False, style="none", client="ios-mail")
    return out


def edge_cases():
    """Reply formats from clients the builders above do not model, written
    out by hand, and replies with text that looks like quoting. Labels are
    what a reader would keep."""
    note = notification_text("en", t("en"), ITEMS[0])
    quoted = quote_lines(note)
    team = f"{TEAM_NAME} <{TEAM_ADDR}>"
    return [
        ("mutt-star-attribution", "Still crashes on 412, see the log below.\n\nTom",
         f"Still crashes on 412, see the log below.\n\nTom\n\n* {team} [2026-03-03 10:02]:\n{quoted}\n"),
        ("lotus-notes", "Confirmed fixed on our side.\n\nRegards,\nTom O'Neill",
         f"Confirmed fixed on our side.\n\nRegards,\nTom O'Neill\n\n\n\n{TEAM_NAME} <{TEAM_ADDR}> wrote on 03/03/2026 10:02:14 AM:\n\n"
         f"> From: {TEAM_NAME} <{TEAM_ADDR}>\n> To: tom.oneill@example.co.uk\n> Date: 03/03/2026 10:02 AM\n"
         f"> Subject: [Lumen beta] PDF export crashes on large projects [FB-1042]\n>\n{quoted}\n"),
        ("lotus-notes-unquoted", "No change for me.",
         f"No change for me.\n\n\n\nFrom:\t{team}\nTo:\ttom.oneill@example.co.uk\nDate:\t03/03/2026 10:02\n"
         f"Subject:\t[Lumen beta] PDF export crashes on large projects [FB-1042]\n\n{note}\n"),
        ("proton-mail", "Works great now!",
         f"Works great now!\n\nSent with Proton Mail secure email.\n\n------- Original Message -------\n"
         f"On Tuesday, March 3rd, 2026 at 10:02, {team} wrote:\n\n\n{quoted}\n"),
        ("roundcube-de", "Funktioniert, danke!",
         f"Funktioniert, danke!\n\nAm 2026-03-03 10:02, schrieb {TEAM_NAME}:\n{quoted}\n"),
        ("fastmail", "Yes, fixed.",
         f"Yes, fixed.\n\n--\nTom O'Neill\ntom.oneill@example.co.uk\n\nOn Tue, 3 Mar 2026, at 10:02, {TEAM_NAME} wrote:\n{quoted}\n"),
        ("forward-with-comment", "FYI, this still happens on my second laptop.",
         f"FYI, this still happens on my second laptop.\n\nBegin forwarded message:\n\n"
         f"From: {team}\nSubject: [Lumen beta] PDF export crashes on large projects [FB-1042]\n"
         f"Date: 3 March 2026 at 10:02:14 GMT\nTo: Tom O'Neill <tom.oneill@example.co.uk>\n\n{note}\n"),
        ("no-blank-before-header", "ok now\nthanks",
         f"ok now\nthanks\nOn Tue, 3 Mar 2026 at 10:02, {team} wrote:\n{quoted}\n"),
        ("sent-from-in-prose", "Sent from my iPhone it works, from the desktop it still crashes.\n\nTom",
         f"Sent from my iPhone it works, from the desktop it still crashes.\n\nTom\n\nOn Tue, 3 Mar 2026 at 10:02, {team} wrote:\n{quoted}\n"),
        ("shell-prompt-in-reply", "Here is what I ran:\n\n> lumen --export big.lmn\nSegmentation fault\n\nTom",
         f"Here is what I ran:\n\n> lumen --export big.lmn\nSegmentation fault\n\nTom\n\nOn Tue, 3 Mar 2026 at 10:02, {team} wrote:\n{quoted}\n"),
        # Old clients and list archives quote with `|`.
        ("pipe-quote", "Fixed for me on 412.\n\nTom",
         f"Fixed for me on 412.\n\nTom\n\n{TEAM_NAME} wrote:\n"
         + "\n".join(("| " + l).rstrip() for l in note.split("\n")) + "\n"),
        # Outlook's rule above an original whose header fields were lost.
        ("rule-above-headerless-original", "Still slow on 412, about a minute per export.\n\nTom",
         f"Still slow on 412, about a minute per export.\n\nTom\n\n{'_' * 32}\n\n{note}\n"),
        # A table of the tester's own is not a quote.
        ("pipe-table", "Timings on 412:\n\n| file | seconds |\n| big.lmn | 41 |\n\nTom",
         f"Timings on 412:\n\n| file | seconds |\n| big.lmn | 41 |\n\nTom\n\nOn Tue, 3 Mar 2026 at 10:02, {team} wrote:\n{quoted}\n"),
    ]


def edge_message(name, text):
    tester = t("en", 3)
    token = mint(ITEMS[0][0], tester.addr, VALID_UNTIL, KEY_NEW)
    headers = [("Return-Path", f"<{tester.addr}>"), ("MIME-Version", "1.0"),
               ("From", mailbox(tester.name, tester.addr)), ("To", f"replies+{token}@beta.example.com"),
               ("Subject", f"Re: [Lumen beta] {ITEMS[0][1]} [FB-{ITEMS[0][0]}]"),
               ("Date", rfc2822(NOTIFIED + timedelta(days=2))),
               ("Message-ID", f"<edge-{name}@example.co.uk>"),
               ("In-Reply-To", f"<feedback-{ITEMS[0][0]}@notify.beta.example.com>")]
    return machine_message(headers, 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit',
                           encode_body(text, "utf-8", "8bit"))


def machine_cases():
    out = []
    for lang in ["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl", "ja", "zh"]:
        out.append(("auto-reply", f"exchange-oof-{lang}", oof_case(f"exchange-{lang}", lang, "exchange"), "auto-reply"))
    for lang in ["en", "de", "fr"]:
        out.append(("auto-reply", f"gmail-vacation-{lang}", oof_case(f"vacation-{lang}", lang, "gmail-vacation"), "auto-reply"))
    for lang in ["en", "de", "es", "sv", "ja", "zh"]:
        out.append(("auto-reply", f"subject-only-{lang}", oof_case(f"subject-{lang}", lang, "subject-only"), "auto-reply"))
    for kind in ["x-autoreply", "x-autorespond", "precedence", "auto-submitted-no-subject-hint"]:
        out.append(("auto-reply", kind, oof_case(kind, "en", kind), "auto-reply"))
    out.append(("auto-reply", "read-receipt", read_receipt(), "auto-reply"))
    for kind in ["postfix", "exchange", "gmail", "exim", "qmail", "null-from", "carrier-notice", "bare-daemon"]:
        out.append(("bounce", kind, bounce(kind), "bounce"))
    for kind in ["newsletter", "list-reply", "junk", "list-id-only", "no-reply"]:
        out.append(("bulk", kind, bulk(kind), "bulk"))
    for kind in ["forwarded-to-self", "plus-self", "case-self"]:
        out.append(("loop", kind, loop(kind), "loop"))
    for kind in ["new-thread", "other-thread"]:
        out.append(("no-match", kind, no_match(kind), "no-match"))
    for kind in ["no-from", "name-only", "empty-from"]:
        out.append(("no-sender", kind, no_sender(kind), "no-sender"))
    return out


def write(category, name, raw, expected):
    folder = ROOT / category
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.eml").write_bytes(raw)
    (folder / f"{name}.expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main():
    for child in ROOT.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
    count = 0
    for case in cases():
        raw = build(case)
        match = expected_match(case)
        expected = {"category": case.category, "client": case.client, "lang": case.lang}
        if match is None:
            expected["skip"] = "no-match"
        else:
            expected.update(match)
            expected["body"] = expected_body(case)
        write(case.category, case.name, raw, expected)
        count += 1
    for name, body, text in edge_cases():
        tester = t("en", 3)
        token = mint(ITEMS[0][0], tester.addr, VALID_UNTIL, KEY_NEW)
        write("edge", name, edge_message(name, text),
              {"category": "edge", "client": "various", "lang": "en", "target": ITEMS[0][0],
               "method": "plus-address", "value": token, "body": body})
        count += 1
    # More languages, webmail clients, forwards and leftovers (world.py).
    import world
    for category, name, raw, label in world.all_cases():
        write(category, name, raw, label)
        count += 1
    for category, name, raw, skip in machine_cases():
        write(category, name, raw, {"category": category, "skip": skip})
        count += 1
    (ROOT / "config.json").write_text(json.dumps(
        {"received_at": RECEIVED_AT, "mailbox": MAILBOX, "config": CONFIG}, indent=2) + "\n")
    print(f"wrote {count} cases")


if __name__ == "__main__":
    main()
