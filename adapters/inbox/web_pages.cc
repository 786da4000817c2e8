#include "adapters/inbox/web_pages.h"

#include <variant>

#include "base/bytes.h"

namespace relais::inbox {

namespace {

using E = std::string;

constexpr const char* kStyle = R"css(
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f6f6f4}
header{background:#003a70;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between}
header a,header button{color:#fff}main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:.5rem;border-bottom:1px solid #ccc;vertical-align:top}
tr.soon td{background:#fff4cc}tr.urgent td{background:#ffd6d6}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;background:#e0e0e0;font-size:.9rem}
.urgent .badge,.badge.urgent{background:#a30000;color:#fff}.soon .badge,.badge.soon{background:#7a5200;color:#fff}
a{color:#003a70}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #e07000;outline-offset:2px}
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:.3rem;background:#003a70;color:#fff;cursor:pointer}
button.secondary{background:#5a5a5a}button.danger{background:#a30000}
form.inline{display:inline}label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input,select,textarea{font:inherit;padding:.4rem;border:1px solid #555;border-radius:.2rem;width:100%;max-width:28rem}
dl{display:grid;grid-template-columns:14rem 1fr;gap:.3rem 1rem;background:#fff;padding:1rem}dt{font-weight:600}dd{margin:0}
.actions{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}.actions section{background:#fff;padding:1rem;flex:1 1 18rem}
.ack{background:#dff3e0;border-left:6px solid #1b6e20;padding:1rem}.err{background:#ffe0e0;border-left:6px solid #a30000;padding:1rem}
.trace{color:#333;font-style:italic}
@media (max-width:40rem){dl{grid-template-columns:1fr}table,thead,tbody,tr,td{display:block}thead{display:none}
tr{margin-bottom:.75rem;border:1px solid #ccc}td{border:0;padding:.3rem .6rem}td[data-label]::before{content:attr(data-label) " : ";font-weight:600}}
)css";

constexpr const char* kScript = R"js(
(function(){function f(ms){var p=ms<0;ms=Math.abs(ms);var d=Math.floor(ms/864e5),h=Math.floor(ms%864e5/36e5),m=Math.floor(ms%36e5/6e4);
var t=d>0?d+' j '+h+' h':(h>0?h+' h '+m+' min':m+' min');return p?'dépassée de '+t:t;}
function tick(){var n=Date.now();document.querySelectorAll('[data-deadline]').forEach(function(e){e.textContent=f(+e.dataset.deadline-n);});}
tick();setInterval(tick,30000);})();
)js";

std::string Layout(const PageContext& ctx, const std::string& title, const std::string& body) {
  std::string out =
      "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      HtmlEscape(title) + " — relais</title><style>" + kStyle +
      "</style></head><body><header><div><strong>relais</strong> · " + HtmlEscape(ctx.agency_name) +
      "</div>";
  if (!ctx.login.empty()) {
    out += "<nav aria-label=\"Navigation principale\"><a href=\"/\">Orientations</a> · " +
           HtmlEscape(ctx.login) +
           " <form class=\"inline\" method=\"post\" action=\"/logout\">"
           "<input type=\"hidden\" name=\"csrf\" value=\"" +
           HtmlEscape(ctx.csrf) +
           "\"><button type=\"submit\" class=\"secondary\">Se déconnecter</button></form></nav>";
  }
  return out + "</header><main id=\"contenu\">" + body + "</main><script>" + kScript +
         "</script></body></html>";
}

std::string Countdown(base::TimeMs deadline, base::TimeMs now) {
  if (deadline == 0) return "—";
  return std::string("<span class=\"badge ") + UrgencyClass(deadline, now) + "\" data-deadline=\"" +
         std::to_string(deadline) + "\">" + HtmlEscape(CountdownText(deadline, now)) + "</span>";
}

std::string DateText(base::TimeMs t) {
  if (t == 0) return "—";
  std::string iso = base::FormatIsoUtc(t);  // 2026-11-25T18:07:43.123Z
  return iso.substr(8, 2) + "/" + iso.substr(5, 2) + "/" + iso.substr(0, 4) + " " +
         iso.substr(11, 5) + " UTC";
}

std::string Csrf(const PageContext& ctx) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + HtmlEscape(ctx.csrf) + "\">";
}

void Row(std::string& out, const std::string& label, const std::string& value) {
  if (value.empty()) return;
  out += "<dt>" + HtmlEscape(label) + "</dt><dd>" + HtmlEscape(value) + "</dd>";
}

std::string NeedsList(const schema::Needs& n) {
  std::string out;
  Row(out, "Situation de logement", n.housing_situation);
  Row(out, "Besoin d'hébergement", n.housing_need);
  Row(out, "Continuité des soins", n.health_continuity);
  if (n.reduced_mobility)
    Row(out, "Mobilité réduite", n.mobility_notes.empty() ? "oui" : n.mobility_notes);
  if (n.animals) Row(out, "Animaux", std::to_string(n.animals) + " " + n.animal_notes);
  if (n.children) Row(out, "Enfants", std::to_string(n.children) + " " + n.children_notes);
  Row(out, "Ressources et droits", n.income_and_rights);
  if (n.addiction_care) Row(out, "Soins en addictologie", "oui");
  if (n.id_papers_missing) Row(out, "Papiers d'identité", "manquants");
  return out;
}

std::string ActionForms(const PageContext& ctx, const CaseView& c) {
  std::string base = "/case/" + HtmlEscape(c.case_ref);
  std::string out = "<div class=\"actions\">";
  if (CanAnswer(c)) {
    out +=
        "<section aria-labelledby=\"h-accept\"><h2 id=\"h-accept\">Accepter</h2>"
        "<form method=\"post\" action=\"" +
        base + "/accept\">" + Csrf(ctx) +
        "<label for=\"accept-note\">Message pour le professionnel (facultatif)</label>"
        "<textarea id=\"accept-note\" name=\"note\" rows=\"2\"></textarea>"
        "<p><button type=\"submit\" id=\"accept\">Accepter l'orientation</button></p></form>"
        "</section><section aria-labelledby=\"h-decline\"><h2 id=\"h-decline\">Refuser</h2>"
        "<form method=\"post\" action=\"" +
        base + "/decline\">" + Csrf(ctx) +
        "<label for=\"decline-reason\">Motif du refus</label>"
        "<select id=\"decline-reason\" name=\"reason\" required>"
        "<option value=\"no_capacity\">Pas de place disponible</option>"
        "<option value=\"not_eligible\">Ne relève pas de notre accompagnement</option>"
        "<option value=\"person_unreachable\">Personne injoignable</option>"
        "<option value=\"other\">Autre motif</option></select>"
        "<label for=\"decline-note\">Précision (facultatif)</label>"
        "<textarea id=\"decline-note\" name=\"note\" rows=\"2\"></textarea>"
        "<p><button type=\"submit\" class=\"danger\" id=\"decline\">Refuser l'orientation"
        "</button></p></form></section>";
  }
  if (CanPickUp(c)) {
    out +=
        "<section aria-labelledby=\"h-pickup\"><h2 id=\"h-pickup\">Prise en charge</h2>"
        "<form method=\"post\" action=\"" +
        base + "/pickup\">" + Csrf(ctx) +
        "<label for=\"pickup-place\">Lieu d'accueil</label>"
        "<input id=\"pickup-place\" name=\"place\" type=\"text\">"
        "<p><button type=\"submit\" id=\"pickup\">Confirmer la prise en charge</button></p>"
        "</form></section>";
  }
  return out + "</div>";
}

std::string CaseRow(const CaseView& c, base::TimeMs now) {
  bool open = c.state == CaseState::kToAnswer;
  std::string cls = open ? UrgencyClass(c.accept_by, now) : "";
  std::string who;
  if (c.referral) {
    if (const auto* b = std::get_if<schema::ReferralBody>(&c.referral->body)) {
      who = b->person.given_names + " " + b->person.family_name;
    }
  }
  return "<tr class=\"" + cls + "\"><td data-label=\"Personne\"><a href=\"/case/" +
         HtmlEscape(c.case_ref) + "\">" + HtmlEscape(who.empty() ? c.case_ref : who) +
         "</a></td><td data-label=\"Sortie\">" + HtmlEscape(DateText(c.due_at)) +
         "</td><td data-label=\"Type\">" + HtmlEscape(ReferralKindLabel(c.referral_kind)) +
         "</td><td data-label=\"État\">" + HtmlEscape(CaseStateLabel(c.state)) +
         "</td><td data-label=\"Réponse attendue dans\">" +
         (open ? Countdown(c.accept_by, now) : std::string("—")) + "</td></tr>";
}

}  // namespace

const char* UrgencyClass(base::TimeMs deadline, base::TimeMs now) {
  if (deadline == 0) return "";
  if (deadline - now < 24 * base::kMsPerHour) return "urgent";
  if (deadline - now < 48 * base::kMsPerHour) return "soon";
  return "";
}

std::string LoginPage(const std::string& error) {
  PageContext ctx;
  ctx.agency_name = "boîte de réception";
  std::string body = "<h1>Connexion</h1>";
  if (!error.empty()) body += "<p class=\"err\" role=\"alert\">" + HtmlEscape(error) + "</p>";
  body +=
      "<form method=\"post\" action=\"/login\"><label for=\"login\">Identifiant</label>"
      "<input id=\"login\" name=\"login\" type=\"text\" autocomplete=\"username\" required "
      "autofocus><label for=\"password\">Mot de passe</label><input id=\"password\" "
      "name=\"password\" type=\"password\" autocomplete=\"current-password\" required>"
      "<p><button type=\"submit\" id=\"submit\">Se connecter</button></p></form>";
  return Layout(ctx, "Connexion", body);
}

std::string ListPage(const PageContext& ctx, const std::vector<CaseView>& cases,
                     const std::vector<PurgeTrace>& purges) {
  std::string body = "<h1>Orientations reçues</h1>";
  std::string rows;
  for (const auto& c : cases) {
    if (c.referral) rows += CaseRow(c, ctx.now);
  }
  if (rows.empty()) {
    body += "<p>Aucune orientation pour le moment.</p>";
  } else {
    body +=
        "<p>Triées par date de sortie. En jaune : réponse attendue dans moins de 48 h ; en "
        "rouge : moins de 24 h ou échéance dépassée.</p><table><caption class=\"trace\">"
        "Orientations</caption><thead><tr><th scope=\"col\">Personne</th><th scope=\"col\">"
        "Sortie</th><th scope=\"col\">Type</th><th scope=\"col\">État</th><th scope=\"col\">"
        "Réponse attendue dans</th></tr></thead><tbody>" +
        rows + "</tbody></table>";
  }
  if (ctx.coordinator) {
    std::string alerts;
    for (const auto& c : cases) {
      if (c.escalations + c.ruptures == 0) continue;
      bool rupture = c.ruptures > 0;
      alerts += std::string("<tr class=\"") + (rupture ? "urgent" : "soon") +
                "\"><td data-label=\"Dossier\"><a href=\"/case/" + HtmlEscape(c.case_ref) + "\">" +
                HtmlEscape(c.case_ref) + "</a></td><td data-label=\"Alerte\">" +
                (rupture ? "Rupture (sortie sans solution)" : "Pas de solution à l'échéance") +
                (c.last_stage.empty() ? "" : " — " + HtmlEscape(c.last_stage)) +
                "</td><td data-label=\"Émetteur\">" + HtmlEscape(c.emitter) +
                "</td><td data-label=\"Sortie\">" + HtmlEscape(DateText(c.due_at)) +
                "</td><td data-label=\"Prise en charge avant\">" +
                HtmlEscape(DateText(c.pickup_by)) + "</td></tr>";
    }
    body += "<h2>Situations à risque sur le territoire</h2>";
    body += alerts.empty()
                ? "<p>Aucune alerte.</p>"
                : "<table><thead><tr><th scope=\"col\">Dossier</th><th scope=\"col\">Alerte</th>"
                  "<th scope=\"col\">Émetteur</th><th scope=\"col\">Sortie</th><th scope=\"col\">"
                  "Prise en charge avant</th></tr></thead><tbody>" +
                      alerts + "</tbody></table>";
  }
  if (!purges.empty()) {
    body += "<h2>Suppressions</h2><ul>";
    for (const auto& p : purges) {
      body += "<li class=\"trace\">" + HtmlEscape(DateText(p.purged_at)) + " — dossier " +
              HtmlEscape(p.case_ref) + " : données supprimées à la demande de la personne" +
              (p.receipt_seq ? " (accusé transmis au relais)" : " (accusé en attente)") + "</li>";
    }
    body += "</ul>";
  }
  return Layout(ctx, "Orientations", body);
}

std::string CasePage(const PageContext& ctx, const CaseView& c) {
  std::string body = "<p><a href=\"/\">← Toutes les orientations</a></p>";
  const schema::ReferralBody* b =
      c.referral ? std::get_if<schema::ReferralBody>(&c.referral->body) : nullptr;
  std::string name = b ? b->person.given_names + " " + b->person.family_name : c.case_ref;
  body += "<h1>" + HtmlEscape(name) + "</h1><p><span class=\"badge " +
          UrgencyClass(c.state == CaseState::kToAnswer ? c.accept_by : 0, ctx.now) + "\">" +
          HtmlEscape(CaseStateLabel(c.state)) + "</span></p>";
  std::string dl;
  Row(dl, "Dossier", c.case_ref);
  Row(dl, "Type de sortie", ReferralKindLabel(c.referral_kind));
  Row(dl, "Émetteur", c.emitter);
  Row(dl, "Date de sortie", DateText(c.due_at));
  if (c.state == CaseState::kToAnswer) {
    dl += "<dt>Réponse attendue avant</dt><dd>" + HtmlEscape(DateText(c.accept_by)) + " (" +
          Countdown(c.accept_by, ctx.now) + ")</dd>";
  }
  if (b) {
    Row(dl, "Lieu de sortie", b->exit_place);
    Row(dl, "Nom d'usage", b->person.used_name);
    Row(dl, "Date de naissance", b->person.birth_date);
    Row(dl, "Téléphone de la personne", b->person.phone);
    std::string langs;
    for (const auto& l : b->person.languages) langs += (langs.empty() ? "" : ", ") + l;
    Row(dl, "Langues", langs);
    Row(dl, "Situation", b->situation);
  }
  body += "<h2>Orientation</h2><dl>" + dl + "</dl>";
  if (b) {
    std::string needs = NeedsList(b->needs);
    if (!needs.empty()) body += "<h2>Besoins</h2><dl>" + needs + "</dl>";
    std::string contact;
    Row(contact, "Nom", b->referrer.name);
    Row(contact, "Fonction", b->referrer.role);
    Row(contact, "Service", b->referrer.service);
    Row(contact, "Téléphone", b->referrer.phone);
    Row(contact, "Courriel", b->referrer.email);
    body += "<h2>Professionnel qui oriente</h2><dl>" + contact + "</dl>";
    std::string consent;
    Row(consent, "Ce que la personne a accepté de partager", b->consent_summary);
    const auto& h = c.referral->header;
    Row(consent, "Base légale", schema::LegalBasisName(h.legal_basis));
    Row(consent, "Niveau",
        h.tier == schema::Tier::kNotice ? "information minimale (notice)" : "orientation complète");
    Row(consent, "Référence du consentement", h.consent_ref);
    std::string recipients;
    for (const auto& r : h.recipients) recipients += (recipients.empty() ? "" : ", ") + r;
    Row(consent, "Destinataires", recipients);
    body += "<h2>Consentement</h2><dl>" + consent + "</dl>";
    if (!b->free_text.empty())
      body += "<h2>Commentaire</h2><p>" + HtmlEscape(b->free_text) + "</p>";
  }
  body += ActionForms(ctx, c);
  body += "<h2>Historique</h2><ul>";
  for (const auto& e : c.events) {
    body += "<li>" + HtmlEscape(DateText(e.received_at)) + " — " +
            HtmlEscape(EventKindLabel(e.header.kind)) +
            (e.header.kind == schema::EventKind::kDeclined
                 ? " (" + HtmlEscape(DeclineReasonLabel(e.header.decline_reason)) + ")"
                 : "") +
            " <span class=\"trace\">n° " + std::to_string(e.seq) + "</span></li>";
  }
  body += "</ul><p><a href=\"/case/" + HtmlEscape(c.case_ref) +
          "/fhir\">Exporter au format FHIR R4 (JSON)</a></p>";
  return Layout(ctx, name, body);
}

std::string ActionResultPage(const PageContext& ctx, const std::string& case_ref,
                             const std::string& action_label, bool ok, uint64_t seq,
                             const std::string& error_text) {
  std::string body = "<h1>" + HtmlEscape(action_label) + "</h1>";
  if (ok) {
    body +=
        "<div class=\"ack\" role=\"status\" id=\"ack\"><p><strong>Transmis au relais.</strong>"
        " Accusé de réception n° " +
        std::to_string(seq) + ".</p><p>Le professionnel qui oriente en est informé.</p></div>";
  } else {
    body +=
        "<div class=\"err\" role=\"alert\" id=\"ack\"><p><strong>Non transmis.</strong></p><p>" +
        HtmlEscape(error_text) + "</p></div>";
  }
  body += "<p><a href=\"/case/" + HtmlEscape(case_ref) +
          "\">Retour au dossier</a> · "
          "<a href=\"/\">Toutes les orientations</a></p>";
  return Layout(ctx, action_label, body);
}

std::string MessagePage(const PageContext& ctx, const std::string& title, const std::string& text) {
  return Layout(ctx, title,
                "<h1>" + HtmlEscape(title) + "</h1><p>" + HtmlEscape(text) +
                    "</p><p><a href=\"/\">Retour</a></p>");
}

}  // namespace relais::inbox
