"""monitor_judges on a local store: MLflow's own scorer registry and online-scoring configuration,
read back through MLflow; the result says that a local store scores nothing by itself."""

import json
import shutil

import pytest
from mlflow.entities import GatewayEndpointModelConfig, GatewayModelLinkageType
from mlflow.genai.scorers.registry import _get_scorer_store
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service.utils import _get_store

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.calibration import GATE_TRUST_FILE
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.monitoring import monitor_judges
from mlflow_eval_mcp.suite.state import read_analysis

GATEWAY = "gateway:/judges"


@pytest.fixture
def demo(demo_suite, tmp_path):
    shutil.copytree(demo_suite.store.workspace, tmp_path / "store")
    shutil.copytree(demo_suite.suite_dir, tmp_path / "suite")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    _gateway_endpoint(client.tracking_uri, GATEWAY.removeprefix("gateway:/"))
    return client, SuiteLayout(tmp_path / "suite")


def _gateway_endpoint(uri: str, name: str) -> None:
    """An AI Gateway endpoint in the store, as `mlflow server`'s gateway pages create one."""
    store = _get_store(uri)
    secret = store.create_gateway_secret(secret_name="key", secret_value={"api_key": "sk-test"}, provider="openai")
    model = store.create_gateway_model_definition(
        name="judge-model", secret_id=secret.secret_id, provider="openai", model_name="gpt-4o-mini"
    )
    primary = GatewayEndpointModelConfig(
        model_definition_id=model.model_definition_id, linkage_type=GatewayModelLinkageType.PRIMARY
    )
    store.create_gateway_endpoint(name=name, model_configs=[primary])


def _registered(client, suite):
    store = _get_scorer_store(client.tracking_uri)
    return {scorer.name: scorer for scorer in store.list_scorers(read_analysis(suite).experiment_id)}


def test_a_named_judge_is_registered_with_its_sampling_rate(demo):
    client, suite = demo
    result = monitor_judges(client, suite, scorers=["safety"], sample_rate=0.25, model=GATEWAY)
    (monitored,) = result.scorers
    assert (monitored.status, monitored.sample_rate) == ("started", 0.25)
    assert "not calibrated" in monitored.reason
    assert _registered(client, suite)["safety"].sample_rate == 0.25


def test_a_local_store_is_said_to_score_nothing_by_itself(demo):
    client, suite = demo
    result = monitor_judges(client, suite, scorers=["safety"], model=GATEWAY)
    assert result.supported is False
    assert "this local store has no process that scores new traces" in result.message


def test_monitoring_again_adds_no_version_and_updates_the_sampling(demo):
    client, suite = demo
    monitor_judges(client, suite, scorers=["safety"], sample_rate=0.25, model=GATEWAY)
    again = monitor_judges(client, suite, scorers=["safety"], sample_rate=0.5, model=GATEWAY)
    assert again.scorers[0].status == "updated"
    store = _get_scorer_store(client.tracking_uri)
    assert len(store.list_scorer_versions(read_analysis(suite).experiment_id, "safety")) == 1
    assert _registered(client, suite)["safety"].sample_rate == 0.5


def test_by_default_only_the_calibrated_judges_are_monitored(demo):
    client, suite = demo
    trust = {"scorers": {"safety": {"gates": True}, "correctness": {"gates": False}}}
    suite.path(GATE_TRUST_FILE).write_text(json.dumps(trust))
    result = monitor_judges(client, suite, model=GATEWAY)
    assert [m.scorer for m in result.scorers] == ["safety"]


def test_a_judge_on_a_provider_model_is_registered_but_not_started_and_says_why(demo):
    client, suite = demo
    result = monitor_judges(client, suite, scorers=["safety"], model="openai:/gpt-4o-mini")
    assert (result.scorers[0].status, result.message) == (
        "unsupported",
        "No judge was started; each scorer's reason says why.",
    )
    assert "only judges whose model is an AI Gateway endpoint" in result.scorers[0].reason
    assert _registered(client, suite)["safety"].sample_rate is None


def test_a_code_scorer_is_skipped_with_why(demo):
    client, suite = demo
    (skipped,) = monitor_judges(client, suite, scorers=["tool_call_errors"]).scorers
    assert (skipped.status, skipped.kind) == ("skipped", "code")
    assert "run evaluation/run_eval.py on new traces on a schedule" in skipped.reason


def test_without_a_calibrated_judge_it_says_to_calibrate(demo):
    client, suite = demo
    with pytest.raises(InvalidArgumentError, match="calibrate_judges"):
        monitor_judges(client, suite)
