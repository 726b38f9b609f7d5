"""`intermission replay`: re-execute stored runs in an isolated namespace and report changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from ._common import EXIT_FAILED, EXIT_USAGE, console, fail, usage_errors
from ._runs import Bucket, Endpoint, Prefix, parse_tags, parse_time, store_settings, with_store


def replay(
    run_id: Annotated[list[str] | None, typer.Argument(help="Runs to replay")] = None,
    file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Run ids, one a line")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Replay runs of this status (from the run index)", show_default=False)
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="... that entered it at or after", show_default=False)
    ] = None,
    until: Annotated[str | None, typer.Option(help="... and before", show_default=False)] = None,
    tag: Annotated[list[str] | None, typer.Option(help="... with tag key=value; repeat for more")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs from the filter")] = 1000,
    label: Annotated[str, typer.Option(help="Names this replay: run ids, reports, resumption")] = "replay",
    app: Annotated[
        str | None, typer.Option(help="module:attribute of the app to replay with (env INTERMISSION_APP)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Replay with this model", show_default=False)] = None,
    from_version: Annotated[
        int | None, typer.Option("--from", min=1, help="Start each run from this pause", show_default=False)
    ] = None,
    allow_effects: Annotated[
        bool, typer.Option("--allow-effects", help="Run tools that are not replay-safe for real")
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Runs replayed at once")] = 8,
    out: Annotated[Path | None, typer.Option(help="Write every report of the label as JSONL")] = None,
    html_report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write every report of the label as one HTML page (summary, chart, diffs)"
        ),
    ] = None,
    target_dir: Annotated[
        Path | None, typer.Option(help="Keep the replay's runs in this directory instead of the bucket")
    ] = None,
    bucket: Bucket = None,
    prefix: Prefix = None,
    s3_endpoint_url: Endpoint = None,
) -> None:
    """Replay stored runs against an app or model, in an isolated namespace, and report changes.

    New runs linked to the originals, run by an in-process worker (no live topic) under the
    bucket's replays/ prefix; human answers re-applied; unsafe tools given their recorded
    output. Runs already replayed under --label are skipped."""
    from ..replay import Replay, ReplayReport, list_runs
    from ..service.adapters.local import LocalSnapshotStore
    from ..service.adapters.s3 import S3SnapshotStore
    from ..service.ports import SnapshotStore
    from ..service.wiring.compose import load_app
    from ..stored import STATUSES

    settings = store_settings(bucket, prefix, s3_endpoint_url, app=app)
    if status is not None and status not in STATUSES:
        fail(f"--status is one of {', '.join(STATUSES)}", EXIT_USAGE)
    wanted = list(run_id or [])
    if file is not None:
        wanted += [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    use_filter = status is not None or since is not None or until is not None or bool(tag)
    if not wanted and not use_filter:
        fail("name runs, give --file, or a filter (--status, --since, --until, --tag)", EXIT_USAGE)
    with usage_errors():
        ai = load_app(settings.app)

    async def work(store: Any, sealer: Any) -> tuple[Any, list[ReplayReport]]:
        ids = list(wanted)
        after = ""
        while use_filter and len(ids) < len(wanted) + limit:
            page = await list_runs(
                store,
                status=cast(Any, status),
                since=parse_time(since),
                until=parse_time(until),
                tags=parse_tags(tag),
                after=after,
                limit=min(1000, len(wanted) + limit - len(ids)),
            )
            ids += [entry.run_id for entry in page.runs]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        target: SnapshotStore
        if target_dir is not None:
            target = LocalSnapshotStore(target_dir)
        else:
            assert settings.bucket is not None
            target = S3SnapshotStore(
                bucket=settings.bucket,
                prefix=f"{settings.prefix}replays/",
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
            )
        replay = Replay(
            source=store,
            sealer=sealer,
            ai=ai,
            target=target,
            label=label,
            model=model,
            allow_effects=allow_effects,
            from_version=from_version,
            concurrency=concurrency,
        )
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"replaying as {label}", total=len(dict.fromkeys(ids)))
            summary = await replay.run(
                ids, on_progress=lambda _report: progress.advance(task), keep_same=False
            )
        every = await replay.reports() if out is not None or html_report is not None else []
        return summary, every

    with usage_errors():
        summary, every = with_store(settings, work)
    title = f"replay {label}: {summary.replayed} run(s) replayed, {len(summary.reports)} differ"
    table = Table(title=title, title_justify="left")
    for column in ("run", "replayed as", "outcome", "same", "why"):
        table.add_column(column)
    for report in summary.reports:
        table.add_row(
            report.run_id,
            report.replay_run_id,
            f"{report.original} -> {report.replayed}",
            "yes" if report.same else "NO",
            "; ".join(report.reasons),
        )
    console.print(table)
    differing = summary.replayed - summary.same
    console.print(
        f"{summary.same} same, {differing} different, "
        f"{len(summary.skipped)} skipped (replayed before under {label})"
    )
    if out is not None:
        with out.open("w", encoding="utf-8") as sink:
            for report in every:
                sink.write(json.dumps(msgspec.to_builtins(report), ensure_ascii=False) + "\n")
        console.print(f"wrote {len(every)} report(s) to {out}", soft_wrap=True)
    if html_report is not None:
        from ..replay import render_report

        html_report.write_text(render_report(label, every), encoding="utf-8")
        console.print(f"wrote the HTML report of {len(every)} run(s) to {html_report}", soft_wrap=True)
    if any(r.replayed == "error" for r in summary.reports):
        raise typer.Exit(EXIT_FAILED)
