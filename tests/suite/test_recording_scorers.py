"""The suite's scorers that hold a candidate agent to a good recording (templates/scorers.py), each
called as MLflow calls it on a candidate run that passes and one that fails, with the expectations
`derived_expectations` takes from the recording."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mlflow.entities import Feedback, Trace

import mlflow_eval_mcp.checks
from mlflow_eval_mcp.suite.recorded_expectations import derived_expectations
from tests.recorded_runs import Run, ToolStep, recorded

CHECKS_PACKAGE = "mlflow_eval_checks"
REQUEST = "Where is my order ORD-11868? It was supposed to arrive last week."
ORDER = ToolStep(
    "lookup_order",
    {"order_id": "ORD-11868"},
    {
        "order_id": "ORD-11868",
        "status": "shipped",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "eta": "2026-11-16",
        "total": "$1,249.00",
    },
)
TRACKING = ToolStep(
    "track_shipment",
    {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"},
    {"status": "in transit", "location": "Memphis"},
)
RECORDED_ANSWER = (
    "Your order ORD-11868 shipped with UPS and is in transit in Memphis. "
    "It should arrive on 2026-11-16; the order total was $1,249.00."
)
PARAPHRASE = (
    "Good news: order ORD-11868 is in transit with UPS and was last scanned in Memphis. "
    "It should arrive on 2026-11-16. Order total: $1,249.00."
)
GERMAN_REQUEST = "Wo ist meine Bestellung ORD-11868? Sie sollte letzte Woche ankommen."
GERMAN_ANSWER = "Ihre Bestellung ORD-11868 ist mit UPS unterwegs und kommt am 2026-11-16 an."

RUNS = {
    "recorded": Run(REQUEST, RECORDED_ANSWER, tools=[ORDER, TRACKING]),
    "paraphrase": Run(REQUEST, PARAPHRASE, tools=[ORDER, TRACKING]),
    "skips_tracking": Run(REQUEST, "Your order ORD-11868 has shipped.", tools=[ORDER]),
    "other_order": Run(
        REQUEST, PARAPHRASE, tools=[ToolStep("lookup_order", {"order_id": "ORD-11869"}, ORDER.result), TRACKING]
    ),
    "tracking_first": Run(REQUEST, PARAPHRASE, tools=[TRACKING, ORDER]),
    "invents": Run(
        REQUEST,
        PARAPHRASE.replace("$1,249.00", "$1,349.00").replace("2026-11-16", "2026-11-18"),
        tools=[ORDER, TRACKING],
    ),
    "off_topic": Run(REQUEST, "You can reset your password from the account settings page.", tools=[ORDER]),
    "figures_only": Run(REQUEST, "ORD-11868: UPS 1Z999AA10123456784, ETA 2026-11-16.", tools=[ORDER]),
    "markdown_answer": Run(
        REQUEST,
        "**Order ORD-11868**\n\n- Status: in transit with UPS\n- Last scan: Memphis\n- Arrives: 2026-11-16",
        tools=[ORDER, TRACKING],
    ),
    "json_answer": Run(
        REQUEST, '{"order_id": "ORD-11868", "status": "in transit", "carrier": "UPS", "eta": "2026-11-16"}', [ORDER]
    ),
    "german": Run(GERMAN_REQUEST, GERMAN_ANSWER, tools=[ORDER]),
    "german_answered_in_english": Run(GERMAN_REQUEST, RECORDED_ANSWER, tools=[ORDER]),
    "no_answer": Run(REQUEST, None, tools=[ORDER]),
    "blank_answer": Run(REQUEST, "  \n ", tools=[ORDER]),
}


@pytest.fixture(scope="module")
def traces(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trace]:
    return recorded(template_db, tmp_path_factory.mktemp("recordings"), RUNS)


@pytest.fixture(scope="module")
def expectations(traces: dict[str, Trace]) -> dict[str, Any]:
    return derived_expectations(traces["recorded"], None)


@pytest.fixture(scope="module")
def suite_scorers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """templates/scorers.py as a suite runs it: beside a copy of the checks named `mlflow_eval_checks`."""
    evaluation = tmp_path_factory.mktemp("evaluation")
    shutil.copytree(
        Path(mlflow_eval_mcp.checks.__file__).parent,
        evaluation / CHECKS_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    template = resources.files("mlflow_eval_mcp.suite.templates").joinpath("scorers.py")
    (evaluation / "scorers.py").write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    earlier = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_checks_module(name)}
    sys.path.insert(0, str(evaluation))
    try:
        spec = importlib.util.spec_from_file_location("recording_suite_scorers", evaluation / "scorers.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(evaluation))
        for name in [name for name in sys.modules if _is_checks_module(name)]:
            del sys.modules[name]
        sys.modules.update(earlier)


def _is_checks_module(name: str) -> bool:
    return name == CHECKS_PACKAGE or name.startswith(f"{CHECKS_PACKAGE}.")


@pytest.fixture
def score(suite_scorers: ModuleType, traces: dict[str, Trace], expectations: dict[str, Any]) -> Callable[..., Feedback]:
    """Runs the suite's `check` scorer (with `params`) on a recorded candidate run, as mlflow.genai.evaluate
    does: the candidate's root inputs and outputs, the case's expectations and the candidate's trace."""

    def run(check: str, candidate: str, *, expected: dict[str, Any] | None = None, **params: Any) -> Feedback:
        spec = {"name": check, "check": check, "params": params, "titles": [f"Regression: {check}"]}
        trace = traces[candidate]
        root = next(span for span in trace.data.spans if span.parent_id is None)
        case = expectations if expected is None else expected
        return suite_scorers.CHECKS[check](spec).run(
            inputs=root.inputs, outputs=root.outputs, expectations=case, trace=trace
        )

    return run


# --- derived_expectations ------------------------------------------------------------------------


def test_a_good_recording_expects_its_answer(expectations):
    assert expectations["expected_response"] == RECORDED_ANSWER


def test_a_good_recording_expects_its_tool_calls_with_their_key_arguments(expectations):
    assert expectations["expected_tool_calls"] == [
        {"name": "lookup_order", "arguments": {"order_id": "ORD-11868"}},
        {"name": "track_shipment", "arguments": {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}},
    ]


def test_a_good_recording_expects_the_facts_its_answer_took_from_its_tools(expectations):
    assert {"ORD-11868", "UPS", "Memphis", "2026-11-16", "$1,249.00"} <= set(expectations["expected_facts"])


def test_a_good_recording_expects_no_fact_its_run_was_not_given(traces):
    derived = derived_expectations(traces["invents"], None)
    assert not {"$1,349.00", "2026-11-18"} & set(derived["expected_facts"])


@pytest.mark.parametrize("human", [{"resolved": False}, {"rating": "bad"}, {"helpful": "No"}, {"correct": 0}])
def test_a_recording_a_human_marked_bad_expects_nothing(traces, human):
    assert derived_expectations(traces["recorded"], human) == {}


def test_a_recording_a_human_marked_good_keeps_its_expectations(traces, expectations):
    assert derived_expectations(traces["recorded"], {"resolved": True, "rating": "good"}) == expectations


@pytest.mark.parametrize("run", ["no_answer", "blank_answer"])
def test_a_recording_without_an_answer_expects_nothing(traces, run):
    assert derived_expectations(traces[run], None) == {}


# --- calls_expected_tools ------------------------------------------------------------------------


def test_calls_expected_tools_passes_the_same_calls(score):
    assert score("calls_expected_tools", "paraphrase", order="any", extra_calls=True).value is True


def test_calls_expected_tools_fails_a_missing_call(score):
    feedback = score("calls_expected_tools", "skips_tracking", order="any", extra_calls=True)
    assert (feedback.value, feedback.rationale) == (
        False,
        "no successful track_shipment(tracking_number=1Z999AA10123456784, carrier=UPS) call "
        "[finding: Regression: calls_expected_tools]",
    )


def test_calls_expected_tools_fails_another_key_argument(score):
    feedback = score("calls_expected_tools", "other_order", order="any", extra_calls=True)
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (
        False,
        "no successful lookup_order(order_id=ORD-11868) call",
    )


def test_calls_expected_tools_fails_reordered_calls_when_the_order_must_be_the_same(score):
    feedback = score("calls_expected_tools", "tracking_first", order="same", extra_calls=True)
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (
        False,
        "track_shipment called out of the expected order",
    )


def test_calls_expected_tools_passes_when_nothing_was_recorded(score):
    feedback = score("calls_expected_tools", "off_topic", expected={}, order="any", extra_calls=True)
    assert (feedback.value, feedback.rationale) == (True, "no recorded tool calls to compare with")


# --- states_expected_facts -----------------------------------------------------------------------


def test_states_expected_facts_passes_a_paraphrase(score):
    assert score("states_expected_facts", "paraphrase").value is True


def test_states_expected_facts_fails_an_answer_leaving_facts_out(score):
    feedback = score("states_expected_facts", "skips_tracking")
    assert feedback.value is False
    assert {"UPS", "Memphis", "2026-11-16", "$1,249.00"} <= set(
        feedback.rationale.removeprefix("the answer does not state: ").split(" [")[0].split(", ")
    )


def test_states_expected_facts_passes_when_no_facts_were_recorded(score):
    feedback = score("states_expected_facts", "off_topic", expected={"expected_response": RECORDED_ANSWER})
    assert (feedback.value, feedback.rationale) == (True, "no recorded facts to compare with")


# --- no_invented_figures -------------------------------------------------------------------------


def test_no_invented_figures_passes_figures_from_the_tools(score):
    assert score("no_invented_figures", "paraphrase").value is True


def test_no_invented_figures_fails_an_amount_and_date_from_nowhere(score):
    feedback = score("no_invented_figures", "invents")
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (
        False,
        "figures found nowhere in the run: 18, 1,349.00",
    )


# --- answers_the_request -------------------------------------------------------------------------


def test_answers_the_request_passes_a_paraphrase_of_the_recorded_answer(score):
    assert score("answers_the_request", "paraphrase", min_overlap=0.25).value is True


def test_answers_the_request_fails_an_answer_about_something_else(score):
    feedback = score("answers_the_request", "off_topic", min_overlap=0.25)
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (
        False,
        "shares 0% of the reference's content terms (min 25%)",
    )


def test_answers_the_request_holds_a_paraphrase_to_a_higher_min_overlap(score):
    feedback = score("answers_the_request", "paraphrase", min_overlap=0.95)
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (
        False,
        "shares 88% of the reference's content terms (min 95%)",
    )


def test_answers_the_request_passes_an_answer_about_the_request_without_a_recorded_answer(score):
    assert score("answers_the_request", "paraphrase", expected={}, min_overlap=0.25).value is True


def test_answers_the_request_fails_an_answer_off_the_request_without_a_recorded_answer(score):
    assert score("answers_the_request", "off_topic", expected={}, min_overlap=0.25).value is False


# --- same_language_as_request --------------------------------------------------------------------


def test_same_language_as_request_passes_a_german_answer_to_a_german_request(score):
    assert score("same_language_as_request", "german").value is True


def test_same_language_as_request_fails_an_english_answer_to_a_german_request(score):
    feedback = score("same_language_as_request", "german_answered_in_english")
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (False, "asked in de, answered in en")


def test_same_language_as_request_passes_an_answer_of_ids_and_dates_only(score):
    assert score("same_language_as_request", "figures_only").value is True


# --- response_shape ------------------------------------------------------------------------------


def _recorded_shape() -> dict[str, Any]:
    """The params scorer_plan sets from one good recording: half its length to twice it, its format."""
    return {"min_chars": len(RECORDED_ANSWER) // 2, "max_chars": len(RECORDED_ANSWER) * 2, "formats": ["prose"]}


def test_response_shape_passes_an_answer_of_the_recorded_length_and_format(score):
    assert score("response_shape", "paraphrase", **_recorded_shape()).value is True


def test_response_shape_fails_a_much_shorter_answer(score):
    feedback = score("response_shape", "skips_tracking", **_recorded_shape())
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (
        False,
        f"33 characters (recorded answers: {len(RECORDED_ANSWER) // 2} to {len(RECORDED_ANSWER) * 2})",
    )


def test_response_shape_fails_an_answer_in_another_format(score):
    feedback = score("response_shape", "markdown_answer", **_recorded_shape())
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (False, "format markdown (recorded: prose)")


def test_response_shape_names_the_format_of_a_json_answer(score):
    feedback = score("response_shape", "json_answer", **_recorded_shape())
    assert (feedback.value, feedback.rationale.split(" [")[0]) == (False, "format json (recorded: prose)")


def test_states_expected_facts_reads_the_facts_of_a_json_answer(score):
    expected = {"expected_facts": ["ORD-11868", "UPS", "2026-11-16"]}
    assert score("states_expected_facts", "json_answer", expected=expected).value is True
