"""Catalogue metadata for harvesters: Bioschemas JSON-LD, the sitemap, OAI-PMH 2.0."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
import yaml
from pyld import jsonld

from panlearn.extensions import db
from panlearn.metadata.jsonld import course_jsonld_text, iso_duration
from panlearn.metadata.oai import Repository, handle_request
from panlearn.metadata.urls import StaticUrls
from tests.conftest import REPO_ROOT

# Bioschemas Course profile 1.0-RELEASE, https://bioschemas.org/profiles/Course/1.0-RELEASE
# (validation block of BioSchemas/specifications Course/jsonld/Course_v1.0-RELEASE.json):
COURSE_PROFILE = "https://bioschemas.org/profiles/Course/1.0-RELEASE"
COURSE_REQUIRED = ("description", "keywords", "name")
COURSE_RECOMMENDED = ("about", "abstract", "aggregateRating", "citation", "coursePrerequisites",
                      "educationalLevel", "hasCourseInstance", "license", "mentions", "provider",
                      "teaches", "timeRequired", "url")
# Recommended properties panlearn has data for (abstract, ratings and citations it has not).
COURSE_RECOMMENDED_PROVIDED = ("about", "coursePrerequisites", "educationalLevel",
                               "hasCourseInstance", "license", "provider", "teaches",
                               "timeRequired", "url")
# Bioschemas TrainingMaterial 1.0-RELEASE (the lessons in hasPart), same source:
# https://bioschemas.org/profiles/TrainingMaterial/1.0-RELEASE
TRAINING_MATERIAL_PROFILE = "https://bioschemas.org/profiles/TrainingMaterial/1.0-RELEASE"
TRAINING_MATERIAL_REQUIRED = ("description", "keywords", "name")
ISO_DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "oai"


def shipped_slugs() -> list[str]:
    slugs = []
    for manifest in sorted((REPO_ROOT / "courses").glob("*/course.yml")):
        data = yaml.safe_load(manifest.read_text())
        slugs.append(data.get("slug") or manifest.parent.name)
    return slugs


@pytest.fixture
def shipped(app, runner):
    """The shipped courses imported and published, as `flask setup` does (no grading)."""
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    return shipped_slugs()


def _schema_org_loader(url, options=None):
    # No internet in tests: a minimal stand-in for the schema.org context, with the
    # prefixes our documents use (the real context defines them the same way).
    if url.rstrip("/") in {"https://schema.org", "http://schema.org"}:
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": {
            "@vocab": "http://schema.org/", "schema": "http://schema.org/",
            "dct": "http://purl.org/dc/terms/"}}}
    raise AssertionError(f"unexpected remote context {url}")


# -- JSON-LD -------------------------------------------------------------------------------


def test_setup_publishes_every_shipped_course(client, shipped):
    # Each folder under courses/ is one course, and `flask setup` publishes them all: the
    # JSON-LD tests below then cover every shipped course.
    folders = list((REPO_ROOT / "courses").glob("*/course.yml"))
    assert len(shipped) == len(set(shipped)) == len(folders) >= 2
    listed = client.get("/api/courses?per_page=100").get_json()
    assert sorted(course["slug"] for course in listed["items"]) == sorted(shipped)
    assert all(course["status"] == "published" for course in listed["items"])


def test_jsonld_of_every_shipped_course_meets_the_bioschemas_course_profile(client, shipped):
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    for slug in shipped:
        response = client.get(f"/courses/{slug}.jsonld")
        assert response.status_code == 200, slug
        assert response.mimetype == "application/ld+json"
        document = response.get_json()
        assert document["@type"] == "Course"
        assert document["dct:conformsTo"]["@id"] == COURSE_PROFILE
        for name in COURSE_REQUIRED:
            assert isinstance(document.get(name), str) and document[name].strip(), (slug, name)
        for name in COURSE_RECOMMENDED_PROVIDED:
            assert name in COURSE_RECOMMENDED
            if name == "about" and slug == "fair-data-at-pan-facilities":
                assert "about" not in document  # no technique: nothing to say, not []
                continue
            assert document.get(name), (slug, name)
        assert document["url"] == f"http://localhost/courses/{slug}"
        assert re.match(r"^https://spdx\.org/licenses/[A-Za-z0-9.+-]+\.html$", document["license"])
        provider = document["provider"]
        assert provider["@type"] == "Organization" and provider["name"]
        assert provider["identifier"].startswith("https://ror.org/")
        assert ISO_DURATION.match(document["timeRequired"]), document["timeRequired"]
        assert document["inLanguage"] == "en"
        assert document["educationalLevel"] in {"beginner", "intermediate", "advanced"}
        assert all(isinstance(item, str) for item in document["teaches"])
        assert all(term["@type"] == "DefinedTerm" and term["name"]
                   for term in document.get("about", []))
        lessons = document["hasPart"]
        assert lessons and [lesson["position"] for lesson in lessons] == list(
            range(1, len(lessons) + 1))
        for lesson in lessons:
            assert lesson["@type"] == "LearningResource"
            assert lesson["dct:conformsTo"]["@id"] == TRAINING_MATERIAL_PROFILE
            for name in TRAINING_MATERIAL_REQUIRED:
                assert isinstance(lesson.get(name), str) and lesson[name].strip(), (slug, name)
            assert ISO_DURATION.match(lesson["timeRequired"])
            assert f"<loc>{lesson['url']}</loc>" in sitemap
        # Valid JSON-LD whose terms expand to schema.org and Dublin Core IRIs.
        expanded = jsonld.expand(document, {"documentLoader": _schema_org_loader})
        assert expanded[0]["@type"] == ["http://schema.org/Course"]
        assert expanded[0]["http://purl.org/dc/terms/conformsTo"][0]["@id"] == COURSE_PROFILE


def test_jsonld_names_the_open_datasets_exercises_use_and_panet_terms(client, shipped):
    document = client.get("/courses/powder-diffraction.jsonld").get_json()
    assert any(item["@type"] == "Dataset" for item in document["mentions"])
    assert any(term.get("termCode", "").startswith("PaNET") for term in document["about"])


def test_draft_courses_have_no_jsonld_and_unknown_ones_404(client, catalogue):
    assert client.get("/courses/drafty.jsonld").status_code == 404
    assert client.get("/courses/nope.jsonld").status_code == 404
    assert client.get("/courses/published.jsonld").status_code == 200
    # The course page itself is still the page, not the document.
    assert client.get("/courses/published").mimetype == "text/html"


def test_jsonld_for_a_script_element_cannot_close_it():
    text = course_jsonld_text({"name": "</script><script>alert(1)</script>", "x": "a & b"})
    assert "</script>" not in text and "<" not in text and "&" not in text


@pytest.mark.parametrize(("minutes", "duration"), [(5, "PT5M"), (60, "PT1H"), (95, "PT1H35M")])
def test_durations_are_iso_8601(minutes, duration):
    assert iso_duration(minutes) == duration


# -- sitemap -------------------------------------------------------------------------------


def test_sitemap_lists_every_published_course_and_lesson_with_lastmod(client, catalogue):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    entries = {url.find(f"{SITEMAP}loc").text: url.find(f"{SITEMAP}lastmod")
               for url in root.findall(f"{SITEMAP}url")}
    assert "http://localhost/courses/published" in entries
    assert "http://localhost/courses/ess-course" in entries
    assert not any("drafty" in loc for loc in entries)
    lessons = client.get("/api/courses/published").get_json()
    lesson_ids = [lesson["id"] for module in lessons["modules"] for lesson in module["lessons"]]
    for lesson_id in lesson_ids:
        assert f"http://localhost/lessons/{lesson_id}" in entries
    assert all(lastmod is not None and lastmod.text for lastmod in entries.values())
    drafty = client.get("/api/courses/drafty", headers=catalogue["author"]).get_json()
    for module in drafty["modules"]:
        for lesson in module["lessons"]:
            assert f"http://localhost/lessons/{lesson['id']}" not in entries


def test_sitemap_urls_follow_the_requested_host(client, catalogue):
    body = client.get("/sitemap.xml", base_url="https://learn.example.org").get_data(as_text=True)
    assert "<loc>https://learn.example.org/courses/published</loc>" in body


# -- OAI-PMH -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oai_schema():
    """OAI-PMH.xsd with oai_dc.xsd, from local copies (see tests/fixtures/oai/README.md)."""
    mapping = {
        "http://www.openarchives.org/OAI/2.0/oai_dc.xsd": str(FIXTURES / "oai_dc.xsd"),
        "http://dublincore.org/schemas/xmls/simpledc20021212.xsd":
            str(FIXTURES / "simpledc20021212.xsd"),
        "http://www.w3.org/2001/03/xml.xsd":
            str(Path(xmlschema.__file__).parent / "schemas" / "XML" / "xml.xsd"),
    }
    return xmlschema.XMLSchema([str(FIXTURES / "OAI-PMH.xsd"), str(FIXTURES / "oai_dc.xsd")],
                               uri_mapper=mapping, allow="local")


def oai(client, schema, **arguments):
    """GET /oai, check the answer against the schema, return the root element."""
    response = client.get("/oai", query_string=arguments)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    schema.validate(response.data)
    return ET.fromstring(response.data)


def error_code(root):
    error = root.find(f"{OAI}error")
    return None if error is None else error.get("code")


def test_identify_validates_and_describes_the_repository(client, catalogue, oai_schema):
    root = oai(client, oai_schema, verb="Identify")
    identify = root.find(f"{OAI}Identify")
    assert identify.find(f"{OAI}baseURL").text == "http://localhost/oai"
    assert identify.find(f"{OAI}protocolVersion").text == "2.0"
    assert identify.find(f"{OAI}granularity").text == "YYYY-MM-DDThh:mm:ssZ"
    assert root.find(f"{OAI}request").get("verb") == "Identify"


def test_list_metadata_formats_and_sets(client, catalogue, oai_schema):
    root = oai(client, oai_schema, verb="ListMetadataFormats")
    prefixes = [e.text for e in root.iter(f"{OAI}metadataPrefix")]
    assert prefixes == ["oai_dc"]
    root = oai(client, oai_schema, verb="ListMetadataFormats",
               identifier="oai:localhost:course/published")
    assert error_code(root) is None
    root = oai(client, oai_schema, verb="ListSets")
    assert {e.text for e in root.iter(f"{OAI}setSpec")} == {"psi", "ess"}


def test_list_records_gives_dublin_core_of_published_courses_only(client, catalogue, oai_schema):
    root = oai(client, oai_schema, verb="ListRecords", metadataPrefix="oai_dc")
    records = root.findall(f"{OAI}ListRecords/{OAI}record")
    identifiers = {r.find(f"{OAI}header/{OAI}identifier").text for r in records}
    assert identifiers == {"oai:localhost:course/published", "oai:localhost:course/ess-course"}
    published = next(r for r in records
                     if r.find(f"{OAI}header/{OAI}identifier").text.endswith("/published"))
    assert published.find(f"{OAI}header/{OAI}setSpec").text == "psi"
    dc = {child.tag.removeprefix(DC): child.text
          for child in published.find(f"{OAI}metadata")[0]}
    assert dc["title"] == "Course published"
    assert dc["identifier"] == "http://localhost/courses/published"
    assert dc["relation"] == "http://localhost/courses/published.jsonld"
    assert dc["rights"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert root.find(f"{OAI}ListRecords/{OAI}resumptionToken") is None


def test_get_record_and_list_identifiers(client, catalogue, oai_schema):
    root = oai(client, oai_schema, verb="GetRecord", identifier="oai:localhost:course/published",
               metadataPrefix="oai_dc")
    assert root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata") is not None
    root = oai(client, oai_schema, verb="ListIdentifiers", metadataPrefix="oai_dc", set="ess")
    headers = root.findall(f"{OAI}ListIdentifiers/{OAI}header")
    assert [h.find(f"{OAI}identifier").text for h in headers] == [
        "oai:localhost:course/ess-course"]


def test_post_is_answered_like_get(client, catalogue, oai_schema):
    response = client.post("/oai", data={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    assert response.status_code == 200
    oai_schema.validate(response.data)
    assert len(ET.fromstring(response.data).findall(f"{OAI}ListIdentifiers/{OAI}header")) == 2


def test_resumption_tokens_page_through_the_whole_list(app, client, catalogue, oai_schema):
    app.config["PANLEARN"]["OAI_PAGE_SIZE"] = 1
    seen, token, cursors = [], None, []
    for _ in range(5):
        arguments = ({"resumptionToken": token} if token
                     else {"metadataPrefix": "oai_dc"})
        root = oai(client, oai_schema, verb="ListRecords", **arguments)
        assert error_code(root) is None
        seen += [e.text for e in root.iter(f"{OAI}identifier")]
        element = root.find(f"{OAI}ListRecords/{OAI}resumptionToken")
        assert element.get("completeListSize") == "2"
        cursors.append(element.get("cursor"))
        token = element.text
        if not token:
            break
        assert element.get("expirationDate").endswith("Z")
    assert sorted(seen) == ["oai:localhost:course/ess-course", "oai:localhost:course/published"]
    assert cursors == ["0", "1"]
    # A token of ListRecords is no token of ListIdentifiers.
    first = oai(client, oai_schema, verb="ListRecords", metadataPrefix="oai_dc")
    token = first.find(f"{OAI}ListRecords/{OAI}resumptionToken").text
    assert error_code(oai(client, oai_schema, verb="ListIdentifiers",
                          resumptionToken=token)) == "badResumptionToken"


def test_expired_and_forged_resumption_tokens_are_refused(app, catalogue, oai_schema):
    urls = StaticUrls("http://localhost")
    fresh = Repository(name="t", base_url="http://localhost/oai", admin_email="a@b.org",
                       repository_id="localhost", secret="s3cret", page_size=1)
    with app.test_request_context():
        first = ET.fromstring(handle_request(db.session, {"verb": ["ListIdentifiers"],
                                                          "metadataPrefix": ["oai_dc"]},
                                             fresh, urls))
        token = first.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken").text
        expired = Repository(**{**fresh.__dict__, "token_ttl": timedelta(seconds=-1)})
        for repository, value in ((expired, token), (fresh, token[:-2] + "xx"),
                                  (fresh, "not-a-token")):
            body = handle_request(db.session, {"verb": ["ListIdentifiers"],
                                               "resumptionToken": [value]}, repository, urls)
            oai_schema.validate(body)
            assert error_code(ET.fromstring(body)) == "badResumptionToken"


# One catalogue for all the cases: building it is what costs.
PROTOCOL_ERRORS = [
    ({}, "badVerb"),
    ({"verb": "Harvest"}, "badVerb"),
    ({"verb": ["Identify", "Identify"]}, "badVerb"),
    ({"verb": "Identify", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": ["oai_dc", "oai_dc"]}, "badArgument"),
    ({"verb": "GetRecord", "identifier": "oai:localhost:course/published"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-01-01",
      "until": "2021-01-01T00:00:00Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2021-01-02",
      "until": "2021-01-01"}, "badArgument"),
    ({"verb": "ListRecords", "resumptionToken": "x", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": "oai:localhost:course/published",
      "metadataPrefix": "datacite"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": "oai:localhost:course/drafty",
      "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ({"verb": "ListMetadataFormats", "identifier": "oai:elsewhere:course/published"},
     "idDoesNotExist"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2999-01-01"}, "noRecordsMatch"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "ill"}, "noRecordsMatch"),
    ({"verb": "ListRecords", "resumptionToken": "garbage"}, "badResumptionToken"),
    ({"verb": "ListSets", "resumptionToken": "garbage"}, "badResumptionToken"),
]


def test_protocol_errors_are_oai_errors_that_validate(client, catalogue, oai_schema):
    for arguments, code in PROTOCOL_ERRORS:
        root = oai(client, oai_schema, **arguments)
        assert error_code(root) == code, arguments
        request = root.find(f"{OAI}request")
        assert request.text == "http://localhost/oai"
        if code in {"badVerb", "badArgument"}:
            assert request.attrib == {}, arguments


def test_from_and_until_select_by_datestamp(client, catalogue, oai_schema):
    root = oai(client, oai_schema, verb="ListIdentifiers", metadataPrefix="oai_dc")
    stamps = sorted(e.text for e in root.iter(f"{OAI}datestamp"))
    # A harvester's next `from` is the datestamp it saw last: that record is included.
    root = oai(client, oai_schema, verb="ListIdentifiers", metadataPrefix="oai_dc",
               **{"from": stamps[-1]})
    assert len(root.findall(f"{OAI}ListIdentifiers/{OAI}header")) >= 1
    day = stamps[0][:10]
    root = oai(client, oai_schema, verb="ListIdentifiers", metadataPrefix="oai_dc",
               **{"from": day, "until": day})
    assert len(root.findall(f"{OAI}ListIdentifiers/{OAI}header")) == 2
    assert error_code(oai(client, oai_schema, verb="ListIdentifiers", metadataPrefix="oai_dc",
                          until="2000-01-01")) == "noRecordsMatch"


def test_oai_post_needs_no_csrf_token_but_pages_still_do(app, client, catalogue):
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/oai", data={"verb": "Identify"}).status_code == 200
    assert client.post("/login", data={"username": "x", "password": "y"}).status_code == 400


def test_request_echo_carries_the_arguments(client, catalogue, oai_schema):
    root = oai(client, oai_schema, verb="ListRecords", metadataPrefix="oai_dc", set="psi")
    request = root.find(f"{OAI}request")
    assert request.attrib == {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "psi"}


def test_course_pages_embed_the_same_json_ld(client, catalogue):
    import json
    import re

    page = client.get("/courses/published").get_data(as_text=True)
    [script] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    embedded = json.loads(script)
    served = json.loads(client.get("/courses/published.jsonld").get_data(as_text=True))
    assert embedded == served and embedded["@type"] == "Course"
    drafts = client.get("/courses/drafty", headers=catalogue["author"]).get_data(as_text=True)
    assert "application/ld+json" not in drafts
