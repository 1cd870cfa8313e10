"""The package's layout: one place per name, a documented API for the core, tests beside every module, and
no torch where no model runs."""

import ast
import collections
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_cli import ROOT

SRC = ROOT / "src" / "gradcorr"
CORE = ["correction", "attribution", "baselines", "metrics", "angles", "kld", "ensemble_difference", "motifs",
        "tracks", "monitor", "faithfulness", "unmasking"]
MODULES = sorted(".".join(p.relative_to(SRC).with_suffix("").parts) for p in SRC.rglob("*.py")
                 if p.name != "__init__.py" and not p.name.startswith("_"))


def top_level_names(path: Path) -> list[str]:
    """Functions, classes and assigned names at the top level of a module (its `log` and dunders left out)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if n != "log" and not n.startswith("__")]


def test_no_two_modules_define_the_same_name():
    where = collections.defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        for name in top_level_names(path):
            where[name].append(str(path.relative_to(SRC)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


@pytest.mark.parametrize("name", CORE)
def test_core_modules_export_their_functions_and_keep_helpers_private(name):
    """__all__ names only what the module defines, and every function or class it defines without a leading _."""
    module = importlib.import_module(f"gradcorr.{name}")
    assert set(module.__all__) <= set(top_level_names(SRC / f"{name}.py"))
    public = {n for n, obj in vars(module).items() if (inspect.isfunction(obj) or inspect.isclass(obj))
              and obj.__module__ == module.__name__ and not n.startswith("_")}
    assert public <= set(module.__all__), "a helper must start with _"


@pytest.mark.parametrize("name", CORE)
def test_core_functions_have_numpy_docstrings(name):
    """Each public function of the core says what its parameters are (with shapes) and what it returns."""
    module = importlib.import_module(f"gradcorr.{name}")
    for export in module.__all__:
        obj = getattr(module, export)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        assert "Parameters\n----------" in doc, f"{name}.{export}: no Parameters section"
        assert "Returns\n-------" in doc or "Yields\n------" in doc, f"{name}.{export}: no Returns section"
        missing = [p for p in inspect.signature(obj).parameters if p not in doc]
        assert not missing, f"{name}.{export}: parameters {missing} are not described"


# What each part of the package may import: data flows from data/ through models/ and the core to studies/,
# and no part reaches back (attribution uses models/ to fold BatchNorm and stack ensembles; motifs and tracks
# write their files through data.io).
MAY_IMPORT = {"workflow": set(), "data": {"data"}, "models": {"models", "data"}, "core": {"core", "models", "data"},
              "studies": {"studies", "core", "models", "data", "workflow"}}


def part(module: str) -> str:
    """'gradcorr.models.training' -> 'models'; a core module (or gradcorr itself) -> 'core'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or parts[-1] in MAY_IMPORT else "core"


def test_imports_flow_one_way():
    reached = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name == "gradcorr" and isinstance(node, ast.ImportFrom):  # from gradcorr import angles, ...
                    name = f"gradcorr.{node.names[0].name}"
                if name.startswith("gradcorr.") and part(name) not in MAY_IMPORT[part(module)] | {part(module)}:
                    reached.append(f"{module} imports {name}")
    assert reached == []


def test_every_module_has_its_test_file():
    """tests/ mirrors src/gradcorr/: gradcorr/<path>/<module>.py is tested in tests/<path>/test_<module>.py."""
    missing = [m for m in MODULES
               if not (ROOT / "tests" / Path(*m.split(".")[:-1]) / f"test_{m.split('.')[-1]}.py").is_file()]
    assert missing == []


def test_every_script_is_a_study_stage_of_a_rule():
    """scripts/<study>_<stage>.py, each the script of a rule (the downloads of checked files share one)."""
    rules = "\n".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    scripts = sorted(p.name for p in (ROOT / "scripts").glob("*.py"))
    studies = ("synthetic", "invivo", "consistency", "angle_training", "regularization", "faithfulness", "diffroar",
               "multitask", "motifs", "download")
    assert all(any(s.startswith(f"{study}_") for study in studies) for s in scripts), scripts
    assert [s for s in scripts if f'"../scripts/{s}"' not in rules] == []


def test_stages_without_a_model_start_without_torch():
    """The DAG process imports only the standard library; dataset, table and figure jobs no torch (it costs
    each job about 2 s to start)."""
    dag = ["gradcorr.data.encode", "gradcorr.workflow.config_checks"]
    light = ["gradcorr.studies.synthetic", "gradcorr.studies.invivo", "gradcorr.studies.consistency",
             "gradcorr.studies.angle_training", "gradcorr.studies.regularization", "gradcorr.studies.faithfulness",
             "gradcorr.studies.diffroar", "gradcorr.data.leakage", "gradcorr.studies.multitask",
             "gradcorr.data.multitask", "gradcorr.data.accessibility", "gradcorr.studies.motifs",
             "gradcorr.workflow.runtime",
             *(f"gradcorr.{m}" for m in CORE if m not in ("attribution", "baselines", "monitor", "faithfulness"))]
    for modules, heavy, expected in ((dag, "{'numpy', 'torch', 'h5py'}", "[]"),
                                     (light, "{'torch', 'h5py'}", "['h5py']")):
        check = f"import sys, {', '.join(modules)}; print(sorted({heavy} & set(sys.modules)))"
        run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
        assert run.stdout.strip() == expected, run.stderr  # h5py: the check sees what the stages do import
