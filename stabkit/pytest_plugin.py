"""pytest plugin: stability checks as tests.

Registered through the ``pytest11`` entry point (``-p stabkit.pytest_plugin`` where stabkit is not installed).

* Every ``*.stab.yaml`` file pytest is pointed at becomes a test file; each expectation in it
  (``stable``, ``encirclements``, each ``admissible`` entry) is one test item, marked ``stabkit``.
  ``pytest cases/`` runs them.
* The ``stabkit`` fixture (and the plain functions :func:`assert_stable` / :func:`assert_unstable`)
  check circuits built in Python::

      def test_amp_is_stable(stabkit):
          stabkit.assert_stable(build_amp(lser=5e-9))

* ``--stabkit-report DIR`` writes an HTML report per case file into ``DIR``.
* Failure messages give the numbers (right-half-plane poles and their frequencies, encirclements per
  source, the admissible range found against the one expected) and say how to update the expectation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from stabkit.analysis.verdict import Verdict
from stabkit.cases import CASE_SUFFIX, CaseRunner, Expectation, Outcome, load_case, stability_verdict
from stabkit.errors import StabkitError

MARKER = "stabkit: a circuit stability test (every *.stab.yaml item carries it; select them with -m stabkit)"


# ----------------------------------------------------------------------------- Python-built circuits
def _where(circuit, params) -> str:
    name = getattr(circuit, "title", "") or "circuit"
    if params:
        return f"{name!r} with " + ", ".join(f"{k}={v:g}" for k, v in params.items())
    return repr(name)


def assert_stable(circuit, params: Mapping[str, float] | None = None, *, point: int | None = None) -> Verdict:
    """Assert that ``circuit`` (at ``params``) is stable; return the :class:`~stabkit.analysis.verdict.Verdict`.

    The verdict is the one ``stabkit poles``/``check`` give: nonlinear devices are linearized at their DC
    operating point(s) first, and an ``uncertain`` verdict fails with its reason. The message lists the
    unstable poles (lumped circuits) and the NDF encirclements per source."""
    verdict = stability_verdict(circuit, params, point=point)
    if not verdict.stable:
        head = (f"{_where(circuit, params)}: stability is uncertain" if verdict.verdict == "uncertain"
                else f"{_where(circuit, params)} is unstable")
        raise AssertionError("\n  ".join([head, *verdict.evidence()]))
    return verdict


def assert_unstable(circuit, params: Mapping[str, float] | None = None, *, rhp_count: int | None = None,
                    point: int | None = None) -> Verdict:
    """Assert that ``circuit`` is unstable (optionally with exactly ``rhp_count`` unstable natural frequencies).
    An ``uncertain`` verdict fails with its reason."""
    verdict = stability_verdict(circuit, params, point=point)
    if verdict.verdict != "unstable":
        word = "stable" if verdict.stable else "uncertain"
        raise AssertionError("\n  ".join([f"{_where(circuit, params)} is {word}, expected unstable",
                                          *verdict.evidence()]))
    if rhp_count is not None:
        found = verdict.rhp_count
        if found != rhp_count:
            raise AssertionError("\n  ".join([f"{_where(circuit, params)} has {found} unstable natural "
                                              f"frequenc{'y' if found == 1 else 'ies'}, expected {rhp_count}",
                                              *verdict.evidence()]))
    return verdict


class StabkitHelper:
    """What the ``stabkit`` fixture returns."""

    def __init__(self, report_dir: Path | None = None):
        self.report_dir = report_dir

    assert_stable = staticmethod(assert_stable)
    assert_unstable = staticmethod(assert_unstable)

    @staticmethod
    def verdict(circuit, params: Mapping[str, float] | None = None, *, point: int | None = None) -> Verdict:
        """The verdict with its evidence (``.verdict``, ``.stable``, ``.poles``, ``.ndf``, ``.points``)."""
        return stability_verdict(circuit, params, point=point)

    @staticmethod
    def check_case(path) -> list[Outcome]:
        """Check a case file; raise AssertionError listing every failing expectation."""
        outcomes = CaseRunner(load_case(path)).run()
        if outcomes and outcomes[0].skipped:
            pytest.skip(outcomes[0].reason)
        failed = [o for o in outcomes if not o.passed]
        if failed:
            raise AssertionError("\n".join(o.message() for o in failed))
        return outcomes

    def report(self, circuit, name: str) -> Path | None:
        """Write an HTML report of ``circuit`` into ``--stabkit-report DIR`` (no-op without that option)."""
        if self.report_dir is None:
            return None
        from stabkit.report.render import report_for_circuit, write_report

        self.report_dir.mkdir(parents=True, exist_ok=True)
        out = self.report_dir / f"{name}.html"
        write_report(report_for_circuit(circuit, title=name), out)
        return out


@pytest.fixture
def stabkit(request) -> StabkitHelper:
    """Stability assertions for circuits built in Python: ``stabkit.assert_stable(circuit)``."""
    return StabkitHelper(_report_dir(request.config))


# ----------------------------------------------------------------------------- hooks
def pytest_addoption(parser) -> None:
    group = parser.getgroup("stabkit", "stabkit stability cases")
    group.addoption("--stabkit-report", metavar="DIR", default=None,
                    help="write an HTML stability report for every *.stab.yaml case into DIR")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", MARKER)


def pytest_collect_file(file_path: Path, parent):
    if file_path.name.endswith(CASE_SUFFIX):
        return StabCaseFile.from_parent(parent, path=file_path)
    return None


def _report_dir(config) -> Path | None:
    value = config.getoption("stabkit_report", default=None)
    return Path(value) if value else None


# ----------------------------------------------------------------------------- collection
class StabCaseFailure(AssertionError):
    """An expectation of a case file does not hold."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message())
        self.outcome = outcome


class StabCaseFile(pytest.File):
    """A ``*.stab.yaml`` file: one item per expectation."""

    def collect(self):
        try:
            case = load_case(self.path)
        except StabkitError as exc:
            raise self.CollectError(f"stabkit case file: {exc}") from None
        runner = CaseRunner(case)
        for exp in case.expectations:
            item = StabCaseItem.from_parent(self, name=exp.name, runner=runner, expectation=exp)
            item.add_marker(pytest.mark.stabkit)
            yield item


class StabCaseItem(pytest.Item):
    """One expectation of a case file."""

    def __init__(self, *, runner: CaseRunner, expectation: Expectation, **kwargs):
        super().__init__(**kwargs)
        self.runner = runner
        self.expectation = expectation

    def runtest(self) -> None:
        reason = self.runner.case.skip_reason()
        if reason is not None:
            pytest.skip(reason)
        try:
            outcome = self.runner.evaluate(self.expectation)
        finally:
            self._write_report()
        if not outcome.passed:
            raise StabCaseFailure(outcome)

    def _write_report(self) -> None:
        folder = _report_dir(self.config)
        if folder is None or getattr(self.runner, "_report_written", False):
            return
        self.runner._report_written = True
        from stabkit.report.render import report_for_runner, write_report

        folder.mkdir(parents=True, exist_ok=True)
        write_report(report_for_runner(self.runner), folder / f"{self.runner.case.name}.html")

    def repr_failure(self, excinfo, style=None):
        exc = excinfo.value
        if isinstance(exc, StabCaseFailure):
            o = exc.outcome
            lines = [f"{self.runner.case.where(self.expectation.line)}: {o.reason}", *("  " + d for d in o.details)]
            lines += ["  warning: " + w for w in self.runner.warnings]
            return "\n".join(lines)
        if isinstance(exc, StabkitError):
            return f"{self.runner.case.where(self.expectation.line)}: cannot check {self.expectation.describe()}: {exc}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.expectation.line - 1, f"{self.runner.case.name}: {self.expectation.describe()}"
