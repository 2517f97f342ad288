"""A training run killed while it saves leaves `model-last` loadable (or absent),
never half-written, with `spacy-skd.atomic_saves.v1` as its before_to_disk; without
it spaCy's in-place save leaves a pipeline that does not load."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import spacy

from spacy_skd.training.saving import save_atomically

# A component whose saved file ends with a trailer: the second save of a run is
# cut off mid-file and the process killed (SIGKILL), as by an out-of-memory killer;
# loading checks the trailer.
MARKER = textwrap.dedent("""
    import os, signal
    from pathlib import Path
    from spacy.language import Language

    TRAILER = b"--complete--"

    class Marker:
        saves = 0

        def __call__(self, doc):
            return doc

        def to_disk(self, path, exclude=()):
            Marker.saves += 1
            Path(path).mkdir(parents=True, exist_ok=True)
            data = b"x" * 1000 + TRAILER
            if Marker.saves == int(os.environ.get("SKD_KILL_AT_SAVE", "0")):
                (Path(path) / "data").write_bytes(data[:500])
                os.kill(os.getpid(), signal.SIGKILL)
            (Path(path) / "data").write_bytes(data)

        def from_disk(self, path, exclude=()):
            if not (Path(path) / "data").read_bytes().endswith(TRAILER):
                raise ValueError("half-written marker")
            return self

    @Language.factory("skd_test_marker")
    def make_marker(nlp, name):
        return Marker()
""")
exec(MARKER)

TRAIN = textwrap.dedent("""
    import sys
    from pathlib import Path
    import spacy
    from spacy.cli.train import train
    from spacy.tokens import DocBin
    from tests.small_teacher import gold_examples
    exec(open(sys.argv[1]).read())

    out, atomic = Path(sys.argv[2]), sys.argv[3] == "atomic"
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    nlp.add_pipe("skd_test_marker", name="marker")
    DocBin(docs=[eg.reference for eg in gold_examples(nlp)]).to_disk(out / "train.spacy")
    config = nlp.config
    config["paths"]["train"] = config["paths"]["dev"] = str(out / "train.spacy")
    config["training"]["max_steps"] = 4
    config["training"]["eval_frequency"] = 2
    config["training"]["score_weights"] = {"tag_acc": 1.0}
    if atomic:
        config["training"]["before_to_disk"] = {"@misc": "spacy-skd.atomic_saves.v1"}
    config.to_disk(out / "config.cfg")
    train(out / "config.cfg", out / "run")
""")


@pytest.mark.parametrize("atomic", [True, False])
def test_a_run_killed_while_saving_leaves_model_last_loadable(atomic, tmp_path):
    (tmp_path / "marker.py").write_text(MARKER)
    (tmp_path / "train.py").write_text(TRAIN)
    args = [sys.executable, str(tmp_path / "train.py"), str(tmp_path / "marker.py"), str(tmp_path)]
    root = Path(__file__).resolve().parents[2]
    env = {"SKD_KILL_AT_SAVE": "2", "PATH": "", "PYTHONPATH": str(root)}
    result = subprocess.run(
        args + ["atomic" if atomic else "plain"], capture_output=True, text=True, env=env
    )
    assert result.returncode == -9, result.stderr[-3000:]
    model_last = tmp_path / "run" / "model-last"
    if atomic:
        nlp = spacy.load(model_last)
        assert nlp.pipe_names == ["tagger", "marker"]
    else:
        with pytest.raises(ValueError, match="half-written marker"):
            spacy.load(model_last)


def test_a_failed_save_keeps_the_previous_folder(tmp_path):
    def save(folder, text):
        folder.mkdir()
        (folder / "a.txt").write_text(text)
        if text == "broken":
            raise OSError("disk full")
        (folder / "b.txt").write_text(text)

    target = tmp_path / "model-last"
    save_atomically(save, target, text="first")
    with pytest.raises(OSError, match="disk full"):
        save_atomically(save, target, text="broken")
    assert (target / "b.txt").read_text() == "first"
    save_atomically(save, target, text="second")
    assert (target / "a.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-last"]
