"""The deployment files in deploy/: promtool accepts them, and they use only real metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "riptide-rules.yml"
RULE_TESTS = PROMETHEUS / "riptide-rules.test.yml"
GRAFANA = ROOT / "deploy" / "grafana" / "riptide-dashboard.json"
NGINX = ROOT / "deploy" / "nginx" / "riptide.conf"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
SETTINGS = ROOT / "riptide_dashboard" / "settings.py"
APP_SETTINGS = ROOT / "profiling" / "settings.py"

# Series Prometheus makes itself for every target, not exported by the server.
SCRAPE_SERIES = {"up"}

# Words of PromQL that look like metric names: modifiers (their label lists are removed
# first), set operators and literals.
PROMQL_MODIFIERS = ("by", "without", "on", "ignoring", "group_left", "group_right")
PROMQL_KEYWORDS = {*PROMQL_MODIFIERS, "and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects (functions, labels and keywords left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges and subqueries
    expr = re.sub(rf"\b(?:{'|'.join(PROMQL_MODIFIERS)})\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\boffset\s+-?[\w$]+", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)\s*(\()?", expr):
        name, call = match.groups()
        if not call and name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        ('up{job="riptide-dashboard"} == 0', {"up"}),
        ("increase(riptide_profiler_errors_total[10m]) > 0", {"riptide_profiler_errors_total"}),
        (
            "sum by (instance, host) (rate(foo_bucket{le=~'1|2'}[5m] offset 1h)) / ignoring(le) bar_count",
            {"foo_bucket", "bar_count"},
        ),
        ("min_over_time(level:metric:avg5m[30m:1m]) > 10 * 1024 / 3.6e3", {"level:metric:avg5m"}),
        ('a and on(instance) b unless c{status="warning"} == bool 1', {"a", "b", "c"}),
        ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[$__rate_interval])))", {"x_bucket"}),
    ],
)
def test_metric_names_finds_the_selected_series_only(expr, names):
    assert metric_names(expr) == names


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def recorded_names() -> set[str]:
    return {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def rules_metric_names() -> set[str]:
    return set().union(*(metric_names(rule["expr"]) for group in rule_groups() for rule in group["rules"]))


def grafana_dashboard() -> dict:
    return json.loads(GRAFANA.read_text())


def grafana_panels(panels: list[dict]) -> list[dict]:
    """Return every panel, the ones inside rows included."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(grafana_panels(panel.get("panels", [])))
    return found


def grafana_expressions() -> list[str]:
    return [
        target["expr"]
        for panel in grafana_panels(grafana_dashboard()["panels"])
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def grafana_variable_metrics() -> set[str]:
    """Return the metrics the template variables' label_values() queries read."""
    names = set()
    for variable in grafana_dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query.strip())
        assert match, f"unexpected variable query {query!r}"
        names |= metric_names(match.group(1))
    return names


# --- promtool ------------------------------------------------------------------------


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: it checks deploy/prometheus. Install Debian's package "
            "(apt-get install --no-install-recommends prometheus), as .ci/run does."
        )
    return path


def run_promtool(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_promtool_accepts_the_scrape_config_with_its_rules(promtool, tmp_path):
    # promtool also opens the credentials file and the rule files: check a copy whose
    # credentials file exists, beside a copy of the rules.
    config = CONFIG.read_text()
    credentials = re.findall(r"^\s*credentials_file:\s*(\S+)\s*$", config, flags=re.MULTILINE)
    assert credentials == ["/etc/prometheus/riptide-api-key"]
    key_file = tmp_path / "riptide-api-key"
    key_file.write_text("not-a-real-key\n")
    (tmp_path / "prometheus.yml").write_text(config.replace(credentials[0], str(key_file)))
    shutil.copy(RULES, tmp_path / RULES.name)
    result = run_promtool(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS" in result.stdout + result.stderr


def test_scrape_config_scrapes_each_process_with_a_bearer_key():
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == [RULES.name]
    (job,) = (job for job in config["scrape_configs"] if job["job_name"] == "riptide-dashboard")
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert len(targets) == len(set(targets)) >= 4
    hosts = [target.rsplit(":", 1)[0] for target in targets]
    assert len(set(hosts)) >= 2  # several hosts
    assert max(map(hosts.count, hosts)) >= 2  # several processes on one host


def test_promtool_accepts_the_rules(promtool):
    result = run_promtool(promtool, "check", "rules", RULES.name, cwd=PROMETHEUS)
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_rule_tests_pass(promtool):
    result = run_promtool(promtool, "test", "rules", RULE_TESTS.name, cwd=PROMETHEUS)
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not():
    alerts = {rule["alert"] for group in rule_groups() for rule in group["rules"] if "alert" in rule}
    fired, quiet = set(), set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts >= {
        "RiptideMemoryWarning",
        "RiptideMemoryCritical",
        "RiptideMemoryGrowing",
        "RiptideProfilerOverheadHigh",
        "RiptideProfilerErrors",
        "RiptideTargetDown",
    }
    assert fired == alerts
    assert quiet == alerts


# --- the metric names against a real server ------------------------------------------


@pytest.fixture(scope="module")
def exported_names(tmp_path_factory) -> set[str]:
    """Sample names a real Daphne server exports at /metrics (PROFILING_METRICS_PUBLIC=true)."""
    from tests.servers import DaphneServer

    server = DaphneServer(
        tmp_path_factory.mktemp("deploy-server"),
        env={"PROFILING_METRICS_PUBLIC": "true", "PROFILING_MEMORY_INTERVAL_SECS": "0.1"},
    )
    with server:
        names: set[str] = set()
        # The growth rate needs two samples: wait for it, but never for long.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            response = httpx.get(f"{server.base_url}/metrics", timeout=10)  # no key: public
            assert response.status_code == 200
            names = {
                sample.name
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            }
            if "riptide_memory_growth_rate_bytes_per_second" in names:
                break
            time.sleep(0.1)
    return names


@pytest.mark.server
def test_rules_use_only_exported_metrics(exported_names):
    used = rules_metric_names()
    assert used >= {
        "riptide_memory_threshold_status",
        "riptide_memory_growth_rate_bytes_per_second",
        "riptide_profiler_cpu_seconds_total",
        "process_cpu_seconds_total",
        "riptide_profiler_errors_total",
        "riptide_profiling_enabled",
        "up",
    }
    unknown = used - exported_names - SCRAPE_SERIES - recorded_names()
    assert not unknown, f"the rules use metrics the server does not export: {sorted(unknown)}"


@pytest.mark.server
def test_grafana_dashboard_uses_only_exported_metrics(exported_names):
    used = set().union(*map(metric_names, grafana_expressions())) | grafana_variable_metrics()
    assert used >= {
        "riptide_memory_rss_bytes",
        "riptide_memory_heap_bytes",
        "riptide_memory_virtual_bytes",
        "riptide_memory_growth_rate_bytes_per_second",
        "riptide_cpu_usage_percent",
        "riptide_process_cpu_percent",
        "riptide_memory_threshold_status",
        "riptide_profiling_overhead_ratio",
        "riptide_leak_detections_total",
        "riptide_leaks_reported_total",
        "riptide_snapshots_total",
        "riptide_profiler_errors_total",
    }
    unknown = used - exported_names - SCRAPE_SERIES
    assert not unknown, f"the Grafana dashboard uses metrics the server does not export: {sorted(unknown)}"


# --- the Grafana dashboard -----------------------------------------------------------


def test_grafana_dashboard_panels_have_unique_ids_a_datasource_and_queries():
    dashboard = grafana_dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 39
    panels = grafana_panels(dashboard["panels"])
    assert len(panels) >= 8
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        exprs = [target.get("expr", "") for target in panel["targets"]]
        assert exprs and all(exprs), panel["title"]
        # Every query follows the process picker.
        assert all('instance=~"$instance"' in expr for expr in exprs), panel["title"]


def test_grafana_dashboard_picks_the_datasource_and_the_processes():
    variables = {variable["name"]: variable for variable in grafana_dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    instance = variables["instance"]
    assert instance["query"]["query"] == "label_values(riptide_memory_rss_bytes, instance)"
    assert instance["multi"] and instance["includeAll"]


# --- the nginx example -----------------------------------------------------------------


def nginx_blocks(text: str, opening: str) -> dict[str, str]:
    """Return the bodies of the blocks whose opening line matches `opening` (no nested blocks)."""
    text = re.sub(r"#.*", "", text)
    return {m.group(1): m.group(2) for m in re.finditer(opening + r"\s*\{([^{}]*)\}", text)}


def test_nginx_balances_several_loopback_processes_and_upgrades_websockets():
    text = NGINX.read_text()
    (upstream,) = nginx_blocks(text, r"upstream\s+(riptide)").values()
    servers = re.findall(r"^\s*server\s+(127\.0\.0\.1:\d+)", upstream, flags=re.MULTILINE)
    assert len(servers) == len(set(servers)) >= 2
    locations = nginx_blocks(text, r"location\s+((?:=\s*)?/\S*)")
    assert set(locations) >= {"/ws/", "/", "= /metrics"}
    for path in ("/ws/", "/"):
        body = locations[path]
        assert "proxy_pass http://riptide;" in body, path
        # nginx inherits proxy_set_header only into locations that set none: each sets all.
        for header in ("Host $host", "X-Forwarded-Proto $scheme", "X-Forwarded-For $remote_addr"):
            assert f"proxy_set_header {header};" in body, (path, header)
    assert "proxy_set_header Upgrade $http_upgrade;" in locations["/ws/"]
    assert "proxy_set_header Connection $connection_upgrade;" in locations["/ws/"]
    assert "proxy_http_version 1.1;" in text
    assert "proxy_pass" not in locations["= /metrics"]  # Prometheus scrapes each process


# --- docs/deployment.md ------------------------------------------------------------------


def test_deployment_doc_names_only_variables_the_settings_read():
    variables = set(
        re.findall(r"\b(?:DJANGO|PROFILING|ENABLE|REDIS|DATABASE)_[A-Z0-9_]+\b", DEPLOYMENT_DOC.read_text())
    )
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', SETTINGS.read_text()))
    read |= set(re.findall(r'Setting\(\s*"([A-Z0-9_]+)"', APP_SETTINGS.read_text()))
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_HTTPS"} <= variables
    assert variables <= read, sorted(variables - read)
