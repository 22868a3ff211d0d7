"""`monitor_judges`: the suite's calibrated LLM judges registered in the production experiment with a
sampling rate, so that new production traces are scored as they arrive.

MLflow keeps the registration and its sampling configuration in the tracking store (the scorer
store of the tracking URI this call uses; never the process-global one). Which backends run them
is said in the result: Databricks does; an MLflow tracking server does for judges whose model is
one of its AI Gateway endpoints (`gateway:/<endpoint>`; MLflow refuses to start any other judge);
a local store keeps the configuration but has no process that scores. The suite's code scorers
import its checks package, which no scoring service can load: the result says to run run_eval.py
on a schedule for those instead. Registering the same judge again adds no version; the sampling
is updated.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.checks.judges import build_judge, judge_model
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.calibration import read_gate_trust
from mlflow_eval_mcp.suite.judge_loop_models import MonitoredScorer, MonitoringResult
from mlflow_eval_mcp.suite.layout import DATA_DIR, SuiteLayout
from mlflow_eval_mcp.suite.models import JudgeSpec
from mlflow_eval_mcp.suite.state import named_scorers, read_analysis, read_config
from mlflow_eval_mcp.suite.tasks import require

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CODE_SCORER_REASON = (
    "code scorer: it imports the suite's checks package, which a scoring service cannot load; run "
    "evaluation/run_eval.py on new traces on a schedule instead"
)


def monitor_judges(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    sample_rate: float = 0.1,
    scorers: list[str] | None = None,
    filter_string: str | None = None,
    model: str | None = None,
) -> MonitoringResult:
    """Register the calibrated judges (or the scorers named) for production monitoring."""
    require(suite, "scorers")
    if not 0 < sample_rate <= 1:
        raise InvalidArgumentError("sample_rate must be above 0 and at most 1 (the share of new traces scored).")
    config = read_config(suite)
    trust = read_gate_trust(suite).get("scorers", {})
    judges = {judge.name: judge for judge in config.judges}
    wanted = named_scorers(config, scorers) if scorers else [n for n in judges if trust.get(n, {}).get("gates")]
    if not wanted:
        raise InvalidArgumentError(
            "No judge of this suite is calibrated to gate yet, so none is worth monitoring production with; run "
            f"{suggest('calibrate_judges', suite_dir=str(suite.root))} first, or name the judges with scorers=[...]."
        )
    experiment_id = read_analysis(suite).experiment_id
    backend = _backend(client.tracking_uri)
    chosen_model = judge_model(model, config.judge_model)
    results = []
    for name in wanted:
        if name not in judges:
            results.append(
                MonitoredScorer(scorer=name, kind="code", sample_rate=None, status="skipped", reason=CODE_SCORER_REASON)
            )
            continue
        results.append(
            _monitor(client, suite, judges[name], experiment_id, sample_rate, filter_string, chosen_model, trust)
        )
    started = [r for r in results if r.status in ("started", "updated")]
    return MonitoringResult(
        suite_dir=str(suite.root),
        experiment_id=experiment_id,
        supported=backend != "local",
        scorers=results,
        message=_message(backend, len(started), sample_rate, client.tracking_uri),
        next_step=(
            "watch the judges' feedback arrive on new traces in the MLflow UI"
            if backend != "local"
            else "serve the store with an MLflow tracking server that runs jobs, or run evaluation/run_eval.py on a "
            "schedule"
        ),
    )


def _monitor(
    client: MlflowClient,
    suite: SuiteLayout,
    spec: JudgeSpec,
    experiment_id: str,
    sample_rate: float,
    filter_string: str | None,
    model: str,
    trust: dict[str, Any],
) -> MonitoredScorer:
    from mlflow.genai.scorers.registry import DatabricksStore, _get_scorer_store
    from mlflow.genai.scorers.scorer_utils import is_gateway_model

    calibrated = trust.get(spec.name, {}).get("gates")
    note = "" if calibrated else " (not calibrated to gate: its production scores are advisory)"
    try:
        judge = build_judge(spec.model_dump(mode="json"), model, suite.path(DATA_DIR))
        store = _get_scorer_store(client.tracking_uri)
        judge, new_version = _register_once(store, experiment_id, judge)
        if not isinstance(store, DatabricksStore) and not is_gateway_model(getattr(judge, "model", None)):
            return MonitoredScorer(
                scorer=spec.name,
                kind="llm_judge",
                sample_rate=None,
                status="unsupported",
                reason=f"registered, not started: MLflow's online scoring runs only judges whose model is an AI "
                f"Gateway endpoint, and this one uses {getattr(judge, 'model', model)}; pass "
                "judge_model='gateway:/<endpoint>'" + note,
            )
        if isinstance(store, DatabricksStore):
            store.update_registered_scorer(
                name=spec.name,
                scorer=judge,
                sample_rate=sample_rate,
                filter_string=filter_string,
                experiment_id=experiment_id,
            )
        else:
            store.upsert_online_scoring_config(
                scorer=judge, experiment_id=experiment_id, sample_rate=sample_rate, filter_string=filter_string
            )
    except Exception as error:  # a backend refusal of any kind is reported per scorer, not raised
        return MonitoredScorer(
            scorer=spec.name,
            kind="llm_judge",
            sample_rate=None,
            status="failed",
            reason=str(error).splitlines()[0][:300] if str(error).strip() else type(error).__name__,
        )
    return MonitoredScorer(
        scorer=spec.name,
        kind="llm_judge",
        sample_rate=sample_rate,
        status="started" if new_version else "updated",
        reason=("registered and sampling" if new_version else "already registered; sampling updated") + note,
    )


def _register_once(store: Any, experiment_id: str, judge: Any) -> tuple[Any, bool]:
    """The registered judge, registered unless its latest registered version is the same judge; and
    whether it registered a new version."""
    try:
        latest = store.get_scorer(experiment_id, judge.name)
    except Exception:  # not registered yet (each backend says so in its own way)
        latest = None
    if latest is not None and json.dumps(latest.model_dump(), sort_keys=True, default=str) == json.dumps(
        judge.model_dump(), sort_keys=True, default=str
    ):
        return latest, False
    store.register_scorer(experiment_id, judge)
    return judge, True


def _backend(tracking_uri: str) -> str:
    scheme = tracking_uri.split(":", 1)[0].lower()
    if scheme == "databricks":
        return "databricks"
    return "server" if scheme in ("http", "https") else "local"


def _message(backend: str, started: int, sample_rate: float, tracking_uri: str) -> str:
    if not started:
        return "No judge was started; each scorer's reason says why."
    if backend == "databricks":
        return f"{started} judge(s) score {sample_rate:.0%} of new production traces on Databricks."
    if backend == "server":
        return (
            f"{started} judge(s) registered and started with a {sample_rate:.0%} sampling rate; the tracking server "
            "scores new traces with them through its AI Gateway (MLflow's online scoring)."
        )
    return (
        f"{started} judge(s) registered and started with a {sample_rate:.0%} sampling rate, but this local store "
        "has no process that scores new traces: nothing is monitored until an MLflow tracking server serves it."
    )
