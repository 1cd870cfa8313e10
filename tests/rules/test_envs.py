"""The conda environment of the rules pins what pyproject.toml pins."""

import re
import tomllib

import yaml
from workflow_cli import ROOT


def test_conda_env_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = set(project["dependencies"])
    assert all("==" in requirement for requirement in pinned), "pyproject.toml pins every dependency"
    env = yaml.safe_load((ROOT / "envs" / "gradcorr.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip) == pinned
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11"


def rule_blocks():
    """(file, rule name, text) of every rule and checkpoint in the Snakefile and rules/*.smk."""
    for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        text = path.read_text()
        starts = [(m.start(), m.group(2)) for m in re.finditer(r"^\s*(rule|checkpoint) (\w+):", text, re.M)]
        for (start, name), (end, _) in zip(starts, [*starts[1:], (len(text), None)]):
            yield path.name, name, text[start:end]


def test_every_rule_that_runs_code_names_a_pinned_env():
    blocks = list(rule_blocks())
    assert len(blocks) > 25  # the parser found the workflow's rules
    envs = set()
    for path, name, text in blocks:
        if "script:" in text or "shell:" in text:
            match = re.search(r"conda:\s*\n\s*\"\.\./(envs/[\w.-]+\.yaml)\"", text)
            assert match, f"{path}: rule {name} runs code but names no conda env"
            envs.add(match.group(1))
    for env in envs:  # each parses and is the pinned environment checked above
        assert yaml.safe_load((ROOT / env).read_text())["dependencies"], env
    assert envs == {"envs/gradcorr.yaml"}
