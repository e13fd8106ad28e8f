"""Exports are complete or absent: written under a temporary name in the same folder, then renamed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from explorer.app.export import ExportBar, export_figure  # noqa: E402


@pytest.fixture()
def fig():
    f, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    yield f
    plt.close(f)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_export_writes_the_file_and_leaves_no_partial(tmp_path, fig, fmt):
    path, link = export_figure(fig, "NGC 3073/SED", fmt, out_dir=tmp_path)
    assert path == tmp_path / f"NGC_3073_SED.{fmt}" and path.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing else, no hidden partial
    assert f"download='{path.name}'" in link


def test_an_interrupted_export_leaves_the_previous_file_or_nothing(tmp_path, fig, monkeypatch):
    """A write that dies half-way (here: savefig writes some bytes, then raises) leaves no file
    under the export's name, and no partial one; an earlier complete export stays as it was."""
    real_savefig = fig.savefig

    def dying_savefig(fname, **kw):
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG\r\n\x1a\n half")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", dying_savefig)
    with pytest.raises(OSError, match="disk full"):
        export_figure(fig, "first", "png", out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # absent, not half written

    monkeypatch.setattr(fig, "savefig", real_savefig)
    done, _ = export_figure(fig, "first", "png", out_dir=tmp_path)
    before = done.read_bytes()
    monkeypatch.setattr(fig, "savefig", dying_savefig)
    with pytest.raises(OSError):
        export_figure(fig, "first", "png", out_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["first.png"] and done.read_bytes() == before

    # the page's export bar says so and offers no link to a broken file
    monkeypatch.setenv("IROX_EXPORT_DIR", str(tmp_path / "bar"))
    bar = ExportBar(lambda: (fig, "second"), "SED")
    assert bar.export("png") is None
    assert "export failed: disk full" in bar.link.value and "download" not in bar.link.value
    assert not (tmp_path / "bar").exists() or list((tmp_path / "bar").iterdir()) == []
