"""terraform/*.tf is written against the providers' real schema, checked offline.

`terraform validate` cannot run where the tests run (it needs the provider plugins), so every
resource and data block is held against provider_schema.json, the schema of the provider versions
terraform/versions.tf admits. The checker itself is proven on small planted configurations below.
"""

from __future__ import annotations

import pytest

from tests.infra import provider_schema
from tests.infra.provider_schema import admits, check, load_schema, provider_of
from tests.infra.terraform_config import (
    TERRAFORM_DIR,
    Declaration,
    declarations,
    declarations_in,
    parse,
)

DECLARATIONS = declarations()


@pytest.fixture(scope="module")
def schema() -> dict:
    return load_schema()


def problems_of(hcl: str) -> list[str]:
    """What the check says about a planted configuration."""
    schema = load_schema()
    return [p for d in declarations_in(parse(hcl), "planted.tf") for p in check(d, schema)]


# ----- the configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("declaration", DECLARATIONS, ids=str)
def test_every_block_has_only_arguments_and_blocks_its_provider_knows_and_all_it_requires(
    declaration: Declaration, schema
):
    problems = check(declaration, schema)
    assert not problems, "\n".join(problems)


def test_the_check_sees_every_resource_and_data_block(tf):
    assert len(DECLARATIONS) == len(tf.resources) + len(tf.data) > 30


def test_the_schema_describes_only_types_the_configuration_uses(schema):
    """Keeps the JSON small: a type terraform/ stopped using is dropped when it is regenerated."""
    used = {(d.section, d.kind) for d in DECLARATIONS}
    described = {(section, kind) for section in ("resource", "data") for kind in schema[section]}
    assert described == used, provider_schema.REGENERATE


def test_every_provider_the_blocks_use_is_required_from_its_source_at_the_version_checked(schema):
    required = _required_providers()
    used = {provider_of(d) for d in DECLARATIONS}
    assert used <= set(required), f"versions.tf does not require {sorted(used - set(required))}"
    for name in sorted(used):
        extracted = schema["providers"][name]
        assert required[name]["source"] == extracted["source"], name
        constraint = required[name]["version"]
        assert admits(constraint, extracted["version"]), (
            f"versions.tf requires {name} {constraint!r}, but the schema checked is version "
            f"{extracted['version']}: widen the constraint or {provider_schema.REGENERATE}"
        )


def _required_providers() -> dict[str, dict[str, str]]:
    parsed = parse((TERRAFORM_DIR / "versions.tf").read_text(encoding="utf-8"))
    (terraform,) = parsed["terraform"]
    (required,) = terraform["required_providers"]
    return {name: spec for name, spec in required.items() if name != "__is_block__"}


def test_the_google_beta_provider_is_used_only_where_the_type_or_an_argument_needs_it(schema):
    for declaration in DECLARATIONS:
        if provider_of(declaration) != "google-beta":
            continue
        spec = schema[declaration.section][declaration.kind]
        needs_beta = "google" not in spec["providers"] or any(
            key in spec.get("only_in", {}) for key in declaration.body
        )
        assert needs_beta, f"{declaration}: the GA provider has this type; drop `provider = google-beta`"


def test_every_provider_block_names_a_required_provider():
    required = _required_providers()
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        for block in parse(path.read_text(encoding="utf-8")).get("provider", []):
            assert set(block) - {"__is_block__"} <= set(required), path.name


# ----- the check itself, on planted configurations ----------------------------------------------

FUNCTION = """
resource "google_cloudfunctions2_function" "fn" {
  name     = "x"
  location = "europe-west1"
  build_config {
    runtime = "python312"
  }
  service_config {
    %s = "512M"
  }
}
"""


def test_a_well_formed_block_passes():
    assert problems_of(FUNCTION % "available_memory") == []


def test_a_misspelt_argument_is_named_with_its_file_resource_and_the_likely_name():
    (problem,) = problems_of(FUNCTION % "available_memroy")
    assert problem.startswith("planted.tf: google_cloudfunctions2_function.fn > service_config:")
    assert "'available_memroy'" in problem and "did you mean 'available_memory'" in problem


def test_a_missing_required_argument_is_named():
    problems = problems_of(
        'resource "google_pubsub_topic_iam_member" "p" {\n  topic = "t"\n  role = "roles/pubsub.publisher"\n}\n'
    )
    assert problems == ["planted.tf: google_pubsub_topic_iam_member.p: missing required argument 'member'"]


def test_a_missing_required_block_is_named():
    problems = problems_of(
        'resource "google_compute_managed_ssl_certificate" "c" {\n  name = "c"\n}\n'
        'resource "google_firestore_index" "i" {\n  collection = "c"\n}\n'
    )
    assert problems == ["planted.tf: google_firestore_index.i: missing required block 'fields'"]


def test_a_required_argument_missing_in_a_nested_block_is_named():
    problems = problems_of(
        'resource "google_storage_bucket" "b" {\n  name = "b"\n  location = "EU"\n'
        "  lifecycle_rule {\n    condition {\n      age = 1\n    }\n  }\n}\n"
    )
    assert problems == [
        "planted.tf: google_storage_bucket.b > lifecycle_rule: missing required block 'action'"
    ]


def test_a_beta_only_type_without_the_beta_provider_fails():
    hcl = 'resource "google_project_service_identity" "i" {\n  service = "pubsub.googleapis.com"\n%s}\n'
    (problem,) = problems_of(hcl % "")
    assert "exists only in google-beta" in problem and "provider = google-beta" in problem
    assert problems_of(hcl % "  provider = google-beta\n") == []
    assert problems_of(hcl % "  provider = google-beta.europe\n") == []


def test_a_beta_only_argument_with_the_ga_provider_fails():
    hcl = 'resource "google_project_service" "s" {\n  service = "x"\n  check_if_service_has_usage_on_destroy = true\n%s}\n'
    (problem,) = problems_of(hcl % "")
    assert "check_if_service_has_usage_on_destroy exists only in google-beta" in problem
    assert problems_of(hcl % "  provider = google-beta\n") == []


def test_a_type_the_schema_does_not_describe_fails_and_says_how_to_regenerate():
    (problem,) = problems_of('resource "google_pubsub_schema" "s" {\n  name = "s"\n}\n')
    assert "google_pubsub_schema is not in provider_schema.json" in problem
    assert "extract_provider_schema" in problem
    (problem,) = problems_of('resource "random_id" "r" {\n  byte_length = 4\n}\n')
    assert "random_id is not in provider_schema.json" in problem


def test_meta_arguments_are_allowed_at_the_top_and_nowhere_below():
    top = """
resource "google_pubsub_topic" "t" {
  for_each   = toset(["a"])
  name       = each.key
  provider   = google
  depends_on = [google_project_service.enabled]
  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = true
      error_message = "never"
    }
  }
}
data "google_project" "p" {
  count = 1
}
"""
    assert problems_of(top) == []
    nested = (
        FUNCTION.replace('runtime = "python312"', 'runtime = "python312"\n    for_each = []')
        % "available_memory"
    )
    (problem,) = problems_of(nested)
    assert "build_config: unknown argument or block 'for_each'" in problem
    (problem,) = problems_of(
        'data "google_project" "p" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n'
    )
    assert "lifecycle: unknown argument or block 'prevent_destroy'" in problem


def test_dynamic_blocks_are_checked_like_the_blocks_they_generate():
    dynamic = FUNCTION % "available_memory"
    generated = """
    dynamic "secret_environment_variables" {
      for_each = toset(["A"])
      content {
        key        = secret_environment_variables.value
        project_id = "p"
        %s
        version    = "latest"
      }
    }
  }
"""
    body = dynamic.replace('= "512M"\n  }\n', '= "512M"\n' + generated)
    assert problems_of(body % 'secret = "s"') == []
    assert problems_of(body % 'secrett = "s"') == [
        "planted.tf: google_cloudfunctions2_function.fn > service_config > dynamic 'secret_environment_variables'"
        " > content: unknown argument or block 'secrett' (did you mean 'secret'?)",
        "planted.tf: google_cloudfunctions2_function.fn > service_config > dynamic 'secret_environment_variables'"
        " > content: missing required argument 'secret'",
    ]
    (problem,) = problems_of(
        body.replace('dynamic "secret_environment_variables"', 'dynamic "secret_env"') % 'secret = "s"'
    )
    assert "'secret_env' is not a block here" in problem


def test_a_block_written_as_an_argument_and_a_repeated_single_block_fail():
    (problem,) = problems_of(
        'resource "google_cloudfunctions2_function" "fn" {\n  name = "x"\n  location = "l"\n  build_config = {}\n}\n'
    )
    assert "build_config is a block" in problem
    twice = FUNCTION.replace("build_config {", "build_config {\n  }\n  build_config {") % "available_memory"
    (problem,) = problems_of(twice)
    assert "2 build_config blocks, at most 1 allowed" in problem


def test_blocks_of_other_providers_are_checked_against_their_own_schema():
    assert problems_of('resource "time_sleep" "w" {\n  create_duration = "60s"\n}\n') == []
    (problem,) = problems_of('resource "time_sleep" "w" {\n  create_durration = "60s"\n}\n')
    assert "did you mean 'create_duration'" in problem
    assert "missing required argument 'output_path'" in " ".join(
        problems_of('data "archive_file" "a" {\n  type = "zip"\n}\n')
    )


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        (">= 8.7, < 9", "8.7.0", True),
        (">= 8.7, < 9", "9.0.0", False),
        (">= 6.14, < 8", "8.7.0", False),
        ("~> 8.7", "8.12.3", True),
        ("~> 8.7", "9.0.0", False),
        ("~> 8.7.1", "8.8.0", False),
        ("8.7.0", "8.7.0", True),
        ("!= 8.7.0", "8.7.0", False),
    ],
)
def test_version_constraints_are_read_as_terraform_reads_them(constraint, version, expected):
    assert admits(constraint, version) is expected
