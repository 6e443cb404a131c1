"""The `cloudrec` command: demo, serve, publish, events, merge, convert."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from cloudrec.actors.channel.encryption import MediaKey
from cloudrec.actors.recorder.hosts import ALLOW_ENV, parse_networks
from cloudrec.actors.session.supervisor import Quota
from cloudrec.cluster.options import Placement
from cloudrec.events.backends import DEFAULT_EVENTS
from cloudrec.runtime import DEFAULT_BACKUP, DEFAULT_STORAGE, DEFAULT_WORKDIR, RuntimeSettings
from cloudrec.tools.options import add_commands as add_tool_commands

SERVE_HELP = """\
Customers are HTTP Basic credential pairs bound to app ids, given as
--customer ID:SECRET:APPID[,APPID...] (repeatable) or in CLOUDREC_CUSTOMERS
("ID:SECRET:APP1,APP2;ID2:SECRET2:APP3"). A client authenticates with
"Authorization: Basic base64(ID:SECRET)" and may only use its own app ids.
resourceIds are signed with CLOUDREC_RESOURCE_KEY (else a key kept in .cloudrec/).
"""


EVENTS_HELP = ("event log URL: embedded SQLite sqlite:///PATH (default: %(default)s) or Apache "
               "Kafka kafka://HOST:PORT[/TOPIC] (topic default cloudrec.events)")


def _runtime_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", default=DEFAULT_EVENTS,
                        help=EVENTS_HELP)
    parser.add_argument("--storage", default=DEFAULT_STORAGE,
                        help="where files go: file://DIR (the server's directory), or s3:// "
                             "for each start request's storageConfig bucket (default: %(default)s)")
    parser.add_argument("--s3-endpoint", default=None,
                        help="S3-compatible URL every storage vendor/region maps to "
                             "(default: CLOUDREC_S3_ENDPOINT, else the vendors' own endpoints)")
    parser.add_argument("--backup", default=DEFAULT_BACKUP,
                        help="where files wait while a customer's storage is down")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--ray-address", default=None,
                        help="Ray cluster to join (default: RAY_ADDRESS, else a local one)")
    parser.add_argument("--slice-seconds", type=float, default=15.0)
    quota = Quota.from_env()
    parser.add_argument("--max-recordings-per-app", type=int, default=quota.recordings_per_app,
                        help="recordings one app id may run at once (default: %(default)s; "
                             "CLOUDREC_MAX_RECORDINGS_PER_APP)")
    parser.add_argument("--max-channels-per-app", type=int, default=quota.channels_per_app,
                        help="distinct channels one app id may record at once (default: "
                             "%(default)s; CLOUDREC_MAX_CHANNELS_PER_APP)")
    parser.add_argument("--recorder-resource", default=Placement.from_env().recorder_resource,
                        metavar="NAME",
                        help="recorders run only on nodes with this Ray custom resource, one "
                             "unit each (`ray start --resources '{\"NAME\": 8}'`; default: "
                             "CLOUDREC_RECORDER_RESOURCE, else any node)")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="CPUs of the local Ray cluster (default: the machine's; recorders "
                             "reserve their share of them)")
    parser.add_argument("--allow-private-image-hosts", type=_networks, default=None,
                        metavar="CIDR[,CIDR]",
                        help="layout images (backgroundImage, ...) may come from hosts in these "
                             "loopback/private networks, e.g. 10.0.0.0/8 (default: "
                             "CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS, else public hosts only)")
    _webhook_args(parser)


def _networks(text: str) -> str:
    """CIDR networks, checked and written out again (ValueError: argparse names the option)."""
    return ",".join(str(network) for network in parse_networks(text))


def _webhook_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhook", action="append", default=[], metavar="APPID=URL[,...]",
                        help="POST APPID's callbacks to URL: APPID=URL[,secret=S][,events=40+41]"
                             "[,retry=on|off][,retry-for=1h][,backoff-max=30s][,timeout=10s]"
                             "[,connections=8]"
                             " (repeatable; also CLOUDREC_WEBHOOKS, ';'-separated)")
    parser.add_argument("--webhooks", type=Path, default=None, metavar="FILE",
                        help="JSON webhook settings {APPID: {url, secret, events, retry, "
                             "retry_for, ...}}, re-read when the file changes")
    parser.add_argument("--webhook-state", type=Path, default=None, metavar="PATH",
                        help="the deliverer's state (SQLite; default .cloudrec/webhooks/<log>.db)")


def _settings(args: argparse.Namespace) -> RuntimeSettings:
    if args.allow_private_image_hosts is not None:  # read by recorders (cluster.connect)
        os.environ[ALLOW_ENV] = args.allow_private_image_hosts
    return RuntimeSettings(events_url=args.events, storage_url=args.storage,
                           workdir=args.workdir, ray_address=args.ray_address,
                           slice_seconds=args.slice_seconds, s3_endpoint=args.s3_endpoint,
                           backup_url=args.backup, webhooks=tuple(args.webhook),
                           webhooks_file=args.webhooks, webhook_state=args.webhook_state,
                           quota=Quota(args.max_recordings_per_app, args.max_channels_per_app),
                           placement=Placement(recorder_resource=args.recorder_resource),
                           num_cpus=args.num_cpus)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cloudrec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="record a live synthetic channel for ~30 s")
    _runtime_args(demo)
    demo.add_argument("--seconds", type=float, default=30.0)
    serve = commands.add_parser("serve", help="run the REST API", epilog=SERVE_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _runtime_args(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--customer", action="append", default=[])
    serve.add_argument("--rate-limit", type=float, default=10.0, help="requests/s per app id")
    serve.add_argument("--regions", default="", metavar="CN,AP,EU,NA",
                       help="the areas this deployment serves: acquire refuses another "
                            "clientRequest.region (default: all)")
    serve.add_argument("--tls-cert", type=Path, default=None, metavar="PEM",
                       help="serve HTTPS with this certificate chain (with --tls-key)")
    serve.add_argument("--tls-key", type=Path, default=None, metavar="PEM",
                       help="the certificate's private key")
    publish = commands.add_parser("publish", help="join a running cloudrec and publish")
    publish.add_argument("--app", required=True)
    publish.add_argument("--channel", required=True)
    publish.add_argument("--uid", type=int, required=True)
    source = publish.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", action="store_true")
    source.add_argument("source", nargs="?", help="a file or URL PyAV can open")
    publish.add_argument("--seconds", type=float, default=None, help="stop after this long")
    publish.add_argument("--encryption-mode", type=int, default=0, choices=range(9),
                         metavar="N", help="encrypt every packet with decryptionMode N's cipher "
                         "(1..8, spec §5.1; 0: clear media); the recording's start needs the "
                         "same decryptionMode, secret and salt")
    publish.add_argument("--secret", default=os.environ.get("CLOUDREC_MEDIA_SECRET"),
                         help="the encryption secret (default: CLOUDREC_MEDIA_SECRET)")
    publish.add_argument("--salt", default=None, metavar="B64",
                         help="base64 of 32 bytes: modes 7 and 8 (GCM2)")
    publish.add_argument("--dual-stream", action="store_true",
                         help="send the video twice: as it is (the high stream) and at half its "
                              "width and height (the low stream, recorded by videoStreamType 1)")
    publish.add_argument("--ray-address", default=None,
                         help="the cluster of the cloudrec to publish to (default: RAY_ADDRESS, "
                              "else .cloudrec/ray-address, written by cloudrec serve here)")
    events = commands.add_parser("events", help="follow the event log, or print its schema")
    events.add_argument("action", choices=["tail", "schema"],
                        help="tail: print events as they arrive, one JSON object per line; "
                             "schema: the JSON Schema of every event type: the root "
                             "validates today's events (and, so far, every older shape), and "
                             "`versions` maps each type and schema_version ever stored to "
                             "its own schema ({\"$ref\": \"#/$defs/...\"})")
    events.add_argument("--events", default=DEFAULT_EVENTS, help=EVENTS_HELP)
    events.add_argument("--sid", default=None, help="only this recording's (or channel's) events")
    events.add_argument("--from-beginning", action="store_true",
                        help="start at the first event instead of the log's end")
    events.add_argument("--no-follow", action="store_true", help="stop at the log's end")
    events.add_argument("--out", type=Path, default=None, help="schema: write it to this file")
    webhooks = commands.add_parser("webhooks", help="deliver callbacks to webhooks (no API): "
                                   "follow the event log and POST every callback")
    webhooks.add_argument("--events", default=DEFAULT_EVENTS, help=EVENTS_HELP)
    _webhook_args(webhooks)
    webhooks.add_argument("--from-beginning", action="store_true",
                          help="with a new state: deliver the log's history too")
    add_tool_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"demo": _demo, "serve": _serve, "publish": _publish, "events": _events,
               "webhooks": _webhooks, "merge": _merge, "convert": _convert}
    try:
        return handler[args.command](args)
    except KeyboardInterrupt:
        return 130


def _demo(args: argparse.Namespace) -> int:
    from cloudrec.demo import main as demo

    return demo(_settings(args), args.seconds)


def _serve(args: argparse.Namespace) -> int:
    from cloudrec.api.settings import parse_regions
    from cloudrec.cluster.connect import ADDRESS_FILE, write_address
    from cloudrec.runtime import start_runtime
    from cloudrec.server import api_settings, parse_customer, serve

    entries = args.customer + [c for c in os.environ.get("CLOUDREC_CUSTOMERS", "").split(";") if c]
    if not entries:
        print("no customers configured: pass --customer ID:SECRET:APPID", file=sys.stderr)
        return 2
    if (args.tls_cert is None) != (args.tls_key is None):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    try:
        regions = parse_regions(args.regions)
        settings = api_settings([parse_customer(e) for e in entries], args.rate_limit, regions)
    except ValueError as error:
        print(f"cloudrec serve: {error}", file=sys.stderr)
        return 2
    runtime = start_runtime(_settings(args))
    print(f"cloudrec: Ray cluster at {write_address()} (in {ADDRESS_FILE})", flush=True)
    try:
        serve(runtime, settings, args.host, args.port, tls)
    finally:
        if runtime.deliverer is not None:
            runtime.deliverer.stop()
    return 0


def _publish(args: argparse.Namespace) -> int:
    import ray

    from cloudrec.actors.channel.handle import ChannelHandle
    from cloudrec.actors.channel.publisher import EncryptedSource, Publisher
    from cloudrec.actors.channel.sources import open_source
    from cloudrec.cluster.connect import connect, server_address
    from cloudrec.cluster.options import CONTROLLER, NAMESPACE

    try:
        key = _media_key(args)
        address = server_address(args.ray_address, os.environ)
    except (LookupError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    connect(address)
    controller = ray.get_actor(CONTROLLER, namespace=NAMESPACE)
    channel: Any = ray.get(controller.get_channel.remote(args.app, args.channel))
    source = open_source("synthetic" if args.synthetic else args.source, args.uid, args.uid % 8,
                         dual_stream=args.dual_stream)
    if key is not None:
        source = EncryptedSource(source, key)
    publisher = Publisher(ChannelHandle(channel), args.uid, source)
    print(f"publishing uid {args.uid} to {args.app}/{args.channel}; Ctrl-C to stop", flush=True)
    stop = threading.Event()
    try:
        sent = publisher.run(stop, args.seconds)
    except KeyboardInterrupt:
        stop.set()
        sent = publisher.sent
    print(f"sent {sent} packets")
    return 0


def _media_key(args: argparse.Namespace) -> MediaKey | None:
    """`--encryption-mode`'s key (None: clear media); ValueError for a missing or bad one."""
    if args.encryption_mode == 0:
        return None
    try:
        return MediaKey.from_text(args.encryption_mode, args.secret or "", args.salt)
    except ValueError as error:
        raise ValueError(f"--encryption-mode {args.encryption_mode}: {error} "
                         "(--secret S, and --salt B64 for modes 7 and 8)") from None


def _events(args: argparse.Namespace) -> int:
    from cloudrec.events.backends import open_event_log
    from cloudrec.events.catalog import json_schema
    from cloudrec.tail import tail

    if args.action == "schema":
        text = json.dumps(json_schema(), indent=2)
        if args.out is None:
            print(text)
        else:
            args.out.write_text(text + "\n")
        return 0
    log = open_event_log(args.events)
    try:
        tail(log, lambda line: print(line, flush=True), args.sid, args.from_beginning,
             follow=not args.no_follow)
    finally:
        log.close()
    return 0


def _webhooks(args: argparse.Namespace) -> int:
    import logging
    import signal

    from cloudrec.events.backends import open_event_log
    from cloudrec.webhooks.config import WebhookSettings
    from cloudrec.webhooks.deliverer import start_deliverer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    hooks = WebhookSettings.from_options(args.webhook, args.webhooks)
    if not hooks:
        print("no webhooks configured: pass --webhook APPID=URL or --webhooks FILE",
              file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log = open_event_log(args.events)
    deliverer = start_deliverer(log, args.events, hooks, args.webhook_state,
                                from_beginning=args.from_beginning)
    print(f"delivering callbacks from {args.events}; Ctrl-C to stop", flush=True)
    try:
        stop.wait()
    finally:
        deliverer.stop()
        log.close()
    return 0


def _merge(args: argparse.Namespace) -> int:
    from cloudrec.tools.merge import main as merge

    return merge(args)


def _convert(args: argparse.Namespace) -> int:
    from cloudrec.tools.convert import main as convert

    return convert(args)


if __name__ == "__main__":
    sys.exit(main())
