"""German, Spanish and French task words in English: a word-for-word gloss the English head can read.

The head was trained on English only. Task descriptions are short and their deciding words are few
(write, review, contract, query, ideas, market ...), many are shared across these languages already
(Python, SQL, Architektur, prompt), and the character n-gram head tolerates the rest's spelling. So a
gloss of the frequent request words, word by word, is enough to route a short request; anything it
does not know is left as it is. Only the verbs and nouns that carry a task are listed; function words
are dropped (an empty gloss) so they do not drown the rest.
"""

from __future__ import annotations

import re

_DE = """
überprüfe:review prüfe:check überprüfen:review prüfen:check schreibe:write schreib:write schreiben:write
erstelle:create erstellen:create entwirf:design entwerfe:design entwerfen:design fasse:summarize zusammen:summary
zusammenfassen:summarize zusammenfassung:summary finde:find finden:find korrigiere:correct korrigieren:correct
übersetze:translate analysiere:analyze analysieren:analyze vergleiche:compare erkläre:explain erklären:explain
sammle:collect nenne:list liste:list gib:give mach:make mache:make hilf:help optimiere:optimize teste:test
verbessere:improve formuliere:rewrite plane:plan recherchiere:research
vertrag:contract verträge:contracts vertrags:contract kündigung:termination frist:deadline fristen:deadlines pflichten:obligations
klausel:clause klauseln:clauses dokument:document dokumente:documents bericht:report protokoll:minutes
besprechungsprotokoll:meeting-minutes besprechung:meeting aufgaben:tasks rechnung:invoice
funktion:function code:code fehler:bug programm:program skript:script klasse:class abfrage:query sql-abfrage:sql-query
umsatz:revenue tabelle:table daten:data datenbank:database monat:month kunden:customers
gedicht:poem geschichte:story brief:letter anschreiben:cover-letter text:text aufsatz:essay rede:speech
rechtschreibung:spelling grammatik:grammar blogartikel:blog-post artikel:article
ideen:ideas idee:idea namen:names name:name vorschläge:suggestions
markt:market wettbewerber:competitors konkurrenz:competition geschäftsplan:business-plan unternehmen:company
architektur:architecture skalierbaren:scalable skalierbar:scalable dienst:service system:system
forschung:research studien:studies systemprompt:system-prompt prompt:prompt
verfasse:write verfass:write verfassen:write lies:read lesen:read korrekturlesen:proofread
korrektur:proofread kontrolliere:check kontrollieren:check prüf:check überprüf:review begutachte:review
fass:summarize übersetz:translate übersetzen:translate übersetzung:translation erklär:explain
erläutere:explain erläutern:explain gestalte:design gestalten:design konzipiere:design konzipieren:design
baue:build bau:build bauen:build entwickle:develop entwickeln:develop implementiere:implement
implementieren:implement programmiere:program programmieren:program behebe:fix beheben:fix repariere:fix
reparieren:fix fixe:fix debugge:debug debuggen:debug optimieren:optimize beschleunige:speed-up
vergleich:compare vergleichen:compare analysier:analyze auflisten:list aufzählen:list nennen:list planen:plan
formulieren:rewrite umformulieren:rewrite umschreiben:rewrite überarbeite:revise überarbeiten:revise
kürze:shorten kürzen:shorten verkürze:shorten extrahiere:extract extrahieren:extract berechne:calculate
berechnen:calculate rechne:calculate kalkuliere:calculate recherchieren:research untersuche:investigate
untersuchen:investigate suche:search suchen:search brainstorme:brainstorm brainstormen:brainstorm
benenne:name benennen:name testen:test bewerte:evaluate bewerten:evaluate evaluiere:evaluate
evaluieren:evaluate beurteile:assess beurteilen:assess verbesser:improve verbessern:improve generiere:generate
generieren:generate erzeuge:generate erzeugen:generate erstell:create schlage:suggest schlag:suggest
vorschlagen:suggest empfiehl:recommend empfehlen:recommend skizziere:outline skizzieren:outline
gliedere:outline bereite:prepare vorbereiten:prepare zeige:show zeig:show zeigen:show machen:make geben:give
helfen:help beantworte:answer beantworten:answer formatiere:format konvertiere:convert sortiere:sort
filtere:filter bereinige:clean visualisiere:visualize automatisiere:automate migriere:migrate
dokumentiere:document kommentiere:comment refaktoriere:refactor refaktorieren:refactor füge:add hinzufügen:add
ergänze:add entferne:remove entfernen:remove richte:set-up einrichten:set-up skaliere:scale skalieren:scale
sammeln:collect identifiziere:identify markiere:highlight hebe:highlight fasst:summarize
funktionen:functions methode:method methoden:methods bug:bug bugs:bugs fehlermeldung:error-message
skripte:scripts programme:programs bibliothek:library bibliotheken:libraries klassen:classes test:test
tests:tests unit-tests:unit-tests schnittstelle:interface api:api app:app anwendung:application
anwendungen:applications webseite:website website:website variable:variable schleife:loop datei:file
dateien:files absturz:crash stürzt:crashes abstürzt:crashes ausnahme:exception programmierung:programming
programmiersprache:programming-language quellcode:source-code compiler:compiler stacktrace:stack-trace
logdateien:log-files python:python javascript:javascript
skalierbarkeit:scalability skalierbare:scalable skalierbares:scalable skalierbarer:scalable
lastverteilung:load-balancing lastverteiler:load-balancer loadbalancer:load-balancer cache:cache
zwischenspeicher:cache microservices:microservices mikroservices:microservices mikrodienste:microservices
server:server rechenzentrum:data-center rechenzentren:data-centers latenz:latency replikation:replication
ausfallsicherheit:fault-tolerance hochverfügbarkeit:high-availability verfügbarkeit:availability
infrastruktur:infrastructure warteschlange:queue monolith:monolith monolithen:monolith verteilt:distributed
verteilte:distributed verteilten:distributed verteiltes:distributed systeme:systems dienste:services
service:service bereitstellung:deployment durchsatz:throughput ausfall:outage last:load lastspitzen:load-peaks
partitionierung:partitioning netzwerk:network
studie:study literatur:literature fachliteratur:literature paper:paper beleg:evidence belege:evidence
beweise:evidence evidenz:evidence wissenschaft:science wissenschaftlich:scientific wissenschaftliche:scientific
wissenschaftlichen:scientific wissenschaftlicher:scientific forschungsstand:state-of-research
hypothese:hypothesis experiment:experiment methodik:methodology quellen:sources quelle:source
metaanalyse:meta-analysis ergebnisse:findings wirkung:effect ursachen:causes theorie:theory klinische:clinical
klinischen:clinical untersuchung:study umfrage:survey medizin:medicine psychologie:psychology
gedichte:poems geschichten:stories kurzgeschichte:short-story briefe:letters reden:speeches
texte:texts essay:essay roman:novel kapitel:chapter ton:tone tonfall:tone stil:style blog:blog
blogbeitrag:blog-post beitrag:post email:email e-mail:email mail:email nachricht:message einladung:invitation
lied:song songtext:lyrics märchen:fairy-tale reim:rhyme erzählung:story drehbuch:screenplay absatz:paragraph
überschrift:headline schlagzeile:headline werbetext:ad-copy trauerrede:eulogy hochzeitsrede:wedding-speech
bewerbung:job-application lebenslauf:resume formulierung:wording tippfehler:typos hochzeit:wedding
tabellen:tables tabellenkalkulation:spreadsheet excel:excel formel:formula formeln:formulas spalte:column
spalten:columns zeile:row zeilen:rows abfragen:queries datensatz:dataset datensätze:records diagramm:chart
diagramme:charts grafik:chart csv:csv pivottabelle:pivot-table summe:sum durchschnitt:average mittelwert:mean
statistik:statistics sverweis:vlookup zelle:cell zellen:cells duplikate:duplicates doppelte:duplicate
bestellungen:orders werte:values datenanalyse:data-analysis analyse:analysis datenschutz:data-protection auswertung:analysis arbeitsblatt:worksheet
sql:sql
prompts:prompts anweisungen:instructions anweisung:instruction assistent:assistant assistenten:assistant
chatbot:chatbot ki:ai agent:agent agenten:agents testfälle:test-cases testfall:test-case fall:case
fälle:cases workflow:workflow arbeitsablauf:workflow arbeitsabläufe:workflows sprachmodell:language-model
vorlage:template vorlagen:templates beispiele:examples rolle:role
vorschlag:suggestion alternativen:alternatives möglichkeiten:possibilities optionen:options einfälle:ideas
slogan:slogan slogans:slogans titel:titles themen:topics konzepte:concepts kreative:creative marke:brand
markenname:brand-name geschenkideen:gift-ideas
berichte:reports sitzung:meeting meeting:meeting transkript:transcript mitschrift:transcript pdf:pdf
rechnungen:invoices mietvertrag:lease vereinbarung:agreement abkommen:agreement kündigungsfrist:notice-period
haftung:liability bedingungen:terms agb:terms-and-conditions datenschutzerklärung:privacy-policy anhang:attachment
beträge:amounts betrag:amount unterschrift:signature gesetz:law formular:form handbuch:manual richtlinie:policy
lizenz:license
märkte:markets marktanalyse:market-analysis konkurrenten:competitors wettbewerb:competition strategie:strategy
preisstrategie:pricing-strategy preisgestaltung:pricing preise:prices preis:price kunde:customer
zielgruppe:target-audience firma:company startup:startup gründung:founding businessplan:business-plan
geschäftsmodell:business-model einnahmen:revenue gewinn:profit investoren:investors investor:investor
finanzierung:funding marketing:marketing vertrieb:sales branche:industry marktanteil:market-share
wachstum:growth kosten:costs produkt:product produkte:products dienstleistung:service geschäft:business"""
_ES = """
revisa:review revisar:review escribe:write escríbeme:write-me escribir:write haz:make hacer:make diseña:design
diseñar:design resume:summarize resumir:summarize resumen:summary encuentra:find encontrar:find corrige:correct
corregir:correct traduce:translate analiza:analyze analizar:analyze compara:compare explica:explain dame:give-me
propón:suggest crea:create crear:create mejora:improve prueba:test pruébalo:test-it enumera:list lista:list
ayúdame:help-me planifica:plan investiga:research
contrato:contract contratos:contracts obligaciones:obligations cláusula:clause cláusulas:clauses documento:document
informe:report transcripción:transcript reunión:meeting tareas:tasks factura:invoice acta:minutes
función:function código:code error:bug programa:program clase:class consulta:query pedidos:orders cliente:customer
ventas:sales datos:data tabla:table base:base mes:month
poema:poem cuento:story historia:story carta:letter presentación:cover gramática:grammar ensayo:essay artículo:article
ideas:ideas idea:idea nombre:name nombres:names
mercado:market competidores:competitors competencia:competition negocio:business empresa:company
arquitectura:architecture escalable:scalable servicio:service
estudios:studies investigación:research prompt:prompt sistema:system asistente:assistant
escriba:write escribid:write escríbame:write-me escríbelo:write-it redacta:write redacte:write redactad:write
redactar:write redáctame:write-me revise:review revisad:review revísame:review-me revísalo:review-it
comprueba:check compruebe:check comprobar:check verifica:check verifique:check verificar:check resuma:summarize
resumid:summarize resúmeme:summarize-me resúmelo:summarize-it traduzca:translate traducid:translate
traducir:translate tradúceme:translate-me tradúcelo:translate-it explique:explain explicad:explain
explicar:explain explícame:explain-me explíqueme:explain-me diseñe:design diseñad:design diséñame:design-me
construye:build construya:build construir:build cree:create créame:create-me desarrolla:develop
desarrolle:develop desarrollar:develop implementa:implement implementar:implement programar:program
arregla:fix arregle:fix arreglar:fix corrija:correct soluciona:fix solucione:fix solucionar:fix repara:fix
depura:debug depure:debug depurar:debug optimiza:optimize optimice:optimize optimizar:optimize comparar:compare
analice:analyze enumere:list enumerar:list listar:list planifique:plan planificar:plan planea:plan planear:plan
reescribe:rewrite reescriba:rewrite reescribir:rewrite reformula:rewrite reformular:rewrite acorta:shorten
acorte:shorten acortar:shorten extrae:extract extraiga:extract extraer:extract calcula:calculate
calcule:calculate calcular:calculate investigue:research investigar:research busca:search busque:search
buscar:search nombra:name pruebe:test probar:test evalúa:evaluate evalúe:evaluate evaluar:evaluate
valora:assess mejore:improve mejorar:improve genera:generate genere:generate generar:generate
encuentre:find sugiere:suggest sugiera:suggest sugerir:suggest sugiéreme:suggest-me proponga:suggest
proponer:suggest recomienda:recommend recomendar:recommend esboza:outline prepara:prepare preparar:prepare
prepárame:prepare-me deme:give-me dime:tell-me ayuda:help ayúdeme:help-me añade:add añada:add agrega:add
añadir:add convierte:convert ordena:sort filtra:filter limpia:clean automatiza:automate documenta:document
configura:configure configurar:configure configuro:configure muestra:show elabora:prepare elabore:prepare
elaborar:prepare hazme:make-me haga:make señala:point-out identifica:identify responde:answer organiza:organize
inventa:invent reduce:reduce reducir:reduce
funciones:functions errores:errors fallo:bug fallos:bugs bug:bug script:script guion:script
biblioteca:library librería:library clases:classes método:method pruebas:tests unitarias:unit api:api
aplicación:application aplicaciones:applications app:app variable:variable bucle:loop
archivo:file archivos:files excepción:exception programación:programming lenguaje:language
repositorio:repository python:python sql:sql
escalabilidad:scalability escalables:scalable balanceador:load-balancer carga:load caché:cache cache:cache
microservicio:microservice microservicios:microservices servidor:server servidores:servers latencia:latency
replicación:replication infraestructura:infrastructure nube:cloud cola:queue disponibilidad:availability
tolerancia:tolerance distribuido:distributed distribuida:distributed distribuidos:distributed sistemas:systems
servicios:services rendimiento:performance tráfico:traffic despliegue:deployment contenedores:containers
monolito:monolith mensajería:messaging
estudio:study literatura:literature artículos:articles científico:scientific científica:scientific
científicos:scientific científicas:scientific ciencia:science evidencia:evidence evidencias:evidence
hallazgos:findings hipótesis:hypothesis experimento:experiment metaanálisis:meta-analysis fuentes:sources
fuente:source efecto:effect efectos:effects causas:causes teoría:theory clínico:clinical clínicos:clinical
salud:health medicina:medicine
poemas:poems poesía:poetry cuentos:stories historias:stories cartas:letters correo:email correos:emails
email:email discurso:speech blog:blog entrada:post publicación:post novela:novel capítulo:chapter texto:text
textos:texts tono:tone estilo:style ortografía:spelling párrafo:paragraph canción:song letra:lyrics
titular:headline invitación:invitation mensaje:message felicitación:greeting currículum:resume
redacción:writing jubilación:retirement
tablas:tables hoja:spreadsheet cálculo:calculation fórmula:formula fórmulas:formulas columna:column
columnas:columns fila:row filas:rows consultas:queries conjunto:set gráfico:chart gráficos:charts gráfica:chart
csv:csv excel:excel celda:cell celdas:cells duplicados:duplicates promedio:average suma:sum
estadística:statistics estadísticas:statistics dinámica:pivot registros:records valores:values
panel:dashboard visualización:visualization buscarv:vlookup
prompts:prompts instrucciones:instructions instrucción:instruction chatbot:chatbot ia:ai agente:agent
agentes:agents casos:cases caso:case flujo:workflow modelo:model plantilla:template ejemplos:examples rol:role
indicación:prompt indicaciones:prompts
sugerencias:suggestions propuestas:proposals alternativas:alternatives posibilidades:possibilities
opciones:options eslogan:slogan eslóganes:slogans esloganes:slogans lemas:slogans títulos:titles temas:topics
marca:brand conceptos:concepts regalo:gift lluvia:brainstorm creativas:creative creativos:creative
informes:reports actas:minutes reuniones:meetings documentos:documents pdf:pdf facturas:invoices
arrendamiento:lease alquiler:rental acuerdo:agreement convenio:agreement términos:terms condiciones:conditions
plazo:deadline plazos:deadlines responsabilidad:liability importes:amounts importe:amount fechas:dates
fecha:date firma:signature anexo:annex política:policy privacidad:privacy ley:law manual:manual
formulario:form abusivas:unfair pendientes:pending
mercados:markets estrategia:strategy estrategias:strategies precio:price precios:pricing clientes:customers
empresas:companies compañía:company negocios:business startup:startup emprendimiento:venture ingresos:revenue
facturación:revenue beneficio:profit beneficios:profits inversores:investors inversionistas:investors
financiación:funding marketing:marketing sector:industry industria:industry cuota:share crecimiento:growth
tendencias:trends producto:product productos:products consumidores:consumers objetivo:target
rentabilidad:profitability costes:costs costos:costs dafo:swot foda:swot lanzamiento:launch"""
_FR = """
examine:review examiner:review vérifie:check vérifier:check écris:write écris-moi:write-me écrire:write
fais:make faire:make conçois:design concevoir:design résume:summarize résumer:summarize résumé:summary
trouve:find trouver:find corrige:correct corriger:correct traduis:translate analyse:analyze analyser:analyze
compare:compare explique:explain donne:give donne-moi:give-me propose:suggest crée:create créer:create
améliore:improve teste:test teste-le:test-it liste:list aide-moi:help-me planifie:plan recherche:research
contrat:contract contrats:contracts obligations:obligations clause:clause clauses:clauses document:document
rapport:report transcription:transcript compte:report rendu:minutes réunion:meeting actions:actions facture:invoice
fonction:function code:code bug:bug programme:program classe:class requête:query chiffre:revenue affaires:business
données:data tableau:table mois:month
poème:poem histoire:story lettre:letter motivation:cover-letter fautes:mistakes grammaire:grammar essai:essay article:article
idées:ideas idée:idea nom:name noms:names
marché:market concurrents:competitors concurrence:competition entreprise:company
architecture:architecture service:service échelle:scale
études:studies prompt:prompt système:system assistant:assistant
écrivez:write écrivez-moi:write-me rédige:write rédigez:write rédiger:write rédige-moi:write-me
examinez:review relis:proofread relisez:proofread relire:proofread révise:revise révisez:revise réviser:revise
vérifiez:check contrôle:check résumez:summarize résume-moi:summarize-me traduisez:translate traduire:translate
traduis-moi:translate-me expliquez:explain expliquer:explain explique-moi:explain-me expliquez-moi:explain-me
concevez:design construis:build construisez:build construire:build créez:create développe:develop
développez:develop développer:develop implémente:implement implémentez:implement corrigez:correct
répare:fix réparez:fix réparer:fix débogue:debug déboguez:debug déboguer:debug optimise:optimize
optimisez:optimize optimiser:optimize comparez:compare comparer:compare analysez:analyze listez:list
lister:list énumère:list énumérez:list planifiez:plan planifier:plan réécris:rewrite réécrivez:rewrite
réécrire:rewrite reformule:rewrite reformulez:rewrite reformuler:rewrite raccourcis:shorten
raccourcissez:shorten raccourcir:shorten abrège:shorten extrais:extract extrayez:extract extraire:extract
calcule:calculate calculez:calculate calculer:calculate cherche:search cherchez:search chercher:search
trouvez:find nomme:name testez:test tester:test évalue:evaluate évaluez:evaluate évaluer:evaluate
améliorez:improve améliorer:improve génère:generate générez:generate générer:generate suggère:suggest
suggérez:suggest suggérer:suggest proposez:suggest proposer:suggest recommande:recommend esquisse:outline
prépare:prepare préparez:prepare préparer:prepare donnez:give donnez-moi:give-me aide:help aidez-moi:help-me
ajoute:add ajoutez:add convertis:convert trie:sort filtre:filter nettoie:clean automatise:automate
documente:document configure:configure configurer:configure montre:show élabore:prepare élaborez:prepare
faites:make fais-moi:make-me signale:point-out signalez:point-out identifie:identify réponds:answer
organise:organize imagine:imagine imaginez:imagine invente:invent réduis:reduce réduisez:reduce réduire:reduce
dresse:draw-up établis:draw-up
fonctions:functions bugs:bugs erreur:error erreurs:errors script:script scripts:scripts bibliothèque:library
bibliothèques:libraries classes:classes méthode:method méthodes:methods test:test tests:tests unitaires:unit
api:api application:application applications:applications app:app logiciel:software variable:variable
boucle:loop fichier:file fichiers:files exception:exception plantage:crash plante:crashes
programmation:programming langage:language dépôt:repository python:python sql:sql
architectures:architectures évolutivité:scalability scalabilité:scalability évolutive:scalable
évolutif:scalable évolutives:scalable répartiteur:load-balancer répartition:balancing charge:load cache:cache
microservice:microservice microservices:microservices serveur:server serveurs:servers latence:latency
réplication:replication base:database infrastructure:infrastructure cloud:cloud disponibilité:availability
tolérance:tolerance pannes:failures panne:failure distribué:distributed distribuée:distributed
distribués:distributed systèmes:systems services:services performances:performance déploiement:deployment
conteneurs:containers monolithe:monolith débit:throughput trafic:traffic messagerie:messaging
étude:study littérature:literature scientifique:scientific scientifiques:scientific science:science
sciences:sciences preuve:evidence preuves:evidence hypothèse:hypothesis expérience:experiment
méta-analyse:meta-analysis sources:sources source:source résultats:findings effet:effect effets:effects
causes:causes théorie:theory clinique:clinical cliniques:clinical santé:health médecine:medicine
bibliographie:bibliography publications:publications articles:articles
poèmes:poems poésie:poetry histoires:stories conte:tale contes:tales nouvelle:short-story lettres:letters
courriel:email courriels:emails e-mail:email mail:email discours:speech blog:blog billet:post roman:novel
chapitre:chapter texte:text textes:texts ton:tone style:style orthographe:spelling paragraphe:paragraph
chanson:song paroles:lyrics titre:title invitation:invitation message:message dissertation:essay cv:resume
retraite:retirement
tableaux:tables tableur:spreadsheet feuille:sheet calcul:calculation formule:formula formules:formulas
colonne:column colonnes:columns ligne:row lignes:rows requêtes:queries jeu:set graphique:chart
graphiques:charts csv:csv excel:excel cellule:cell cellules:cells doublons:duplicates moyenne:average
somme:sum statistiques:statistics commandes:orders ventes:sales enregistrements:records valeurs:values
croisé:pivot recherchev:vlookup
prompts:prompts instructions:instructions consignes:instructions chatbot:chatbot ia:ai agent:agent
agents:agents cas:cases flux:workflow workflow:workflow modèle:model gabarit:template exemples:examples
rôle:role invite:prompt
suggestions:suggestions propositions:proposals alternatives:alternatives possibilités:possibilities
options:options slogan:slogan slogans:slogans titres:titles thèmes:topics marque:brand concepts:concepts
cadeau:gift cadeaux:gifts créatives:creative
rapports:reports compte-rendu:minutes procès-verbal:minutes réunions:meetings documents:documents pdf:pdf
factures:invoices bail:lease location:rental accord:agreement convention:agreement conditions:terms
termes:terms délai:deadline délais:deadlines responsabilité:liability montant:amount montants:amounts
date:date dates:dates signature:signature annexe:annex politique:policy confidentialité:privacy loi:law
manuel:manual formulaire:form abusives:unfair
marchés:markets stratégie:strategy stratégies:strategies prix:pricing tarification:pricing clients:customers
client:customer entreprises:companies société:company start-up:startup startup:startup business:business
revenus:revenue investisseurs:investors financement:funding marketing:marketing secteur:industry
industrie:industry part:share croissance:growth tendances:trends produit:product produits:products
consommateurs:consumers cible:target rentabilité:profitability coûts:costs swot:swot lancement:launch"""
_STOP = {
    "de": "der die das und oder ist ein eine einen einem einer mit für von zu den dem des ich du sie wir bitte mir mein "
          "meine meinem meinen meiner wie was welche welches kann können auf aus im bei über dieser diese dieses diesen "
          "es in am um nicht sind wer paar einige alle unser unsere unseren unserem unserer dir ihr ihre soll sollen sollten "
          "gibt noch auch nur sehr mehr",
    "es": "el la los las y o es un una unos unas con para por de del que en mi mis me tu como qué cuál puedes sobre "
          "este esta estos estas al se lo le sus su a nuestro nuestra nuestros nuestras hay algunos algunas todos todas "
          "muy más cómo",
    "fr": "le la les et ou est un une des avec pour par de du que en mon ma mes me je tu vous comment quel quelle "
          "peux pouvez sur ce cette ces au aux se il l d qui passe à nos notre vos votre quelques tous toutes très dans "
          "sont y",
}


def _parse(table: str) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in table.split())
    return {word: english.replace("-", " ") for word, english in pairs}


GLOSSES = {"de": _parse(_DE), "es": _parse(_ES), "fr": _parse(_FR)}
for _lang, _words in _STOP.items():
    for _w in _words.split():
        GLOSSES[_lang].setdefault(_w, "")
LANGUAGES = frozenset(GLOSSES)
_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]", re.UNICODE)


# German compounds not in the table ("Datenbankabfrage"): a known head, an optional linking
# element, and a known tail; the longest head wins. Parts shorter than this are not tried.
_LINKS = ("", "s", "es", "n", "en")
_MIN_PART = 3


def _compound(word: str, table: dict[str, str]) -> str | None:
    """English for a German compound of two known words, or None."""
    for cut in range(len(word) - _MIN_PART, _MIN_PART - 1, -1):
        head = table.get(word[:cut])
        if not head:
            continue
        rest = word[cut:]
        for link in _LINKS:
            if rest.startswith(link) and len(rest) - len(link) >= _MIN_PART:
                tail = table.get(rest[len(link):])
                if tail:
                    return f"{head} {tail}"
    return None


def _word(lowered: str, table: dict[str, str], language: str) -> str | None:
    """English for one word ("" for a function word), or None when it is not known."""
    english = table.get(lowered)
    if english is None and language == "de" and len(lowered) >= 2 * _MIN_PART:
        english = _compound(lowered, table)
    return english


def gloss(text: str, language: str) -> str:
    """Word-for-word English for the request words of `language`; other words unchanged."""
    table = GLOSSES[language]
    out = []
    for token in _TOKEN.findall(text):
        lowered = token.lower()
        english = _word(lowered, table, language)
        if english is not None:
            if english:
                out.append(english)
            continue
        # "d'affaires", "l'architecture": gloss the word after the elided article.
        if "'" in lowered or "’" in lowered:
            tail = re.split(r"['’]", lowered)[-1]
            english = _word(tail, table, language)
            if english is not None:
                if english:
                    out.append(english)
                continue
        # "PDF-Rechnung", "KI-Assistenten": gloss the known parts, keep the others.
        if "-" in lowered:
            parts = [(_word(part.lower(), table, language), part) for part in token.split("-")]
            if any(english is not None for english, _ in parts):
                out.extend(part if english is None else english for english, part in parts if english != "")
                continue
        out.append(token)
    return " ".join(out)
