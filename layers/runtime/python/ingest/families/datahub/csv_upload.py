"""DataHub CSV upload, wire-compatible with `datahubEventsCSVFile` (`POST /datahub/v1/csv/upload`).

`multipart/form-data` with a `provider` field and a `file` part (parsed by the `multipart` package's
push parser, in memory, with limits on parts and header sizes). The file is plain CSV, gzip, or a
zip holding exactly one CSV (told apart by their magic bytes, not their names), inflated under a
hard cap on the output and on the compression ratio, so a bomb is a 400, never a Lambda out of
memory. The CSV is RFC 4180 (the csv module, strict: quoted fields, doubled quotes, CRLF or LF),
UTF-8 without a byte order mark, its header per the vendor's CSV guide:

    usage_date[,id],<dimension>...,<metric>...
    dimension: fixed.<key> (an allowed fixed key, case-insensitive), label.<key>, project_label.<key>
    metric:    metric.<type>

with at least one dimension and one metric column. Each row becomes one DataHub event and goes
through the same validation (the family's models, the Powertools parser) and the same dedup write
as `POST /datahub/v1/events`; an empty cell leaves that dimension or metric out of the row's event.
All or nothing: one bad row (a bad value, too many or too few fields) and nothing is stored, the
upload is kept raw in S3, and the 400 names every bad row (the line it starts on, the header being
line 1) and column. A row without an id gets one derived from the file's content and the row's
place in it, so the same file uploaded again, plain, gzipped or zipped, overwrites itself instead of
storing its rows twice. 201 `{"batch": "<file name>_<epoch ms>", "ingestedRows": n}`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from multipart import MultipartError, PushMultipartParser, parse_options_header
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from ingest.errors import BadRequest, PayloadTooLarge, Violation
from ingest.families.datahub.family import DERIVED_IDS, FIXED_DIMENSION_KEYS, DataHubFamily, ErrorBody, Provider
from ingest.family import Outcome, Response, json_response
from ingest.request import Request, gunzip
from ingest.spec import Limits, RouteKind
from ingest.types import epoch_ms

# How far a compressed file may inflate: at most the route's max_body_bytes (the vendor's 30 MB),
# and at most this many times its compressed size once past a megabyte (real CSV inflates ~5-20x).
MAX_RATIO = 200
RATIO_FREE_BYTES = 1024 * 1024
MAX_PARTS = 16
DIMENSION_PREFIXES = {"fixed": "fixed", "label": "label", "project_label": "project_label"}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PROVIDER = TypeAdapter(Provider)


class CsvUploadRequest(BaseModel):
    """The multipart form, for the OpenAPI document (the handler parses the parts itself)."""

    provider: Provider
    file: bytes = Field(description="The CSV, plain, gzip or a zip of exactly one CSV.")


class CsvSuccessBody(BaseModel):
    batch: str = Field(description="`<file name>_<epoch ms>`.", examples=["costs.csv.gz_1730972725212"])
    ingestedRows: int = Field(description="Rows stored (each one event).")


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # as written in the header
    kind: Literal["usage_date", "id", "dimension", "metric"]
    type: str = ""  # the dimension's type, or the metric's type
    key: str = ""  # the dimension's key


@dataclass(slots=True)
class Upload:
    """One request's upload, as parsed: what the later steps of the same request read back."""

    request_id: str
    file_name: str
    provider: str
    columns: list[Column] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line each row starts on
    # Per row, the columns its event's dimensions and metrics came from (empty cells are left out).
    row_columns: list[tuple[list[Column], list[Column]]] = field(default_factory=list)
    field_errors: dict[int, str] = field(default_factory=dict)  # row index -> too many/few fields
    rows: list[dict] = field(default_factory=list)  # the raw events, one a row


# The upload of the request being handled (a request is handled on one thread, start to end).
_UPLOAD: ContextVar[Upload | None] = ContextVar("datahub_csv_upload", default=None)


class DataHubCsvFamily(DataHubFamily):
    serves_kinds = frozenset({RouteKind.INGEST})
    path_prefix = "rows"

    # --- the form and the file -------------------------------------------------------------------

    def parse(self, body: bytes, request: Request) -> Upload:
        _UPLOAD.set(None)
        provider, file_name, data = self._form(body, request)
        try:
            provider = _PROVIDER.validate_python(provider)
        except ValidationError as exc:
            raise BadRequest(f"Invalid provider {provider!r}: {self.message(exc.errors()[0])}") from exc
        text = _text(_inflate(data, self.limits.max_body_bytes))
        upload = Upload(request.request_id, file_name, provider)
        upload.rows = list(self._rows(text, upload))
        _UPLOAD.set(upload)
        return upload

    def _form(self, body: bytes, request: Request) -> tuple[str, str, bytes]:
        content_type, options = parse_options_header(request.header("content-type") or "")
        if content_type != "multipart/form-data" or not options.get("boundary"):
            raise BadRequest("The request must be multipart/form-data (with a boundary), carrying the fields "
                             "provider and file.")
        parts: dict[str, tuple[str | None, bytearray]] = {}
        current: bytearray | None = None
        try:
            with PushMultipartParser(options["boundary"], max_segment_count=MAX_PARTS) as parser:
                for event in parser.parse(body):
                    if event is None:
                        current = None
                    elif isinstance(event, bytes | bytearray):
                        if current is not None:
                            current += event
                    else:
                        if event.name in parts:
                            raise BadRequest(f"The form carries the field {event.name!r} twice; send it once.")
                        current = bytearray()
                        parts[event.name] = (event.filename, current)
        except MultipartError as exc:
            raise BadRequest(f"The multipart/form-data body is malformed: {exc}.") from exc
        missing = [name for name in ("provider", "file") if name not in parts]
        if missing:
            raise BadRequest(f"The form has no {' and no '.join(missing)} field; send provider and file.")
        try:
            provider = bytes(parts["provider"][1]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("The provider field is not UTF-8.") from exc
        file_name = re.split(r"[/\\]", parts["file"][0] or "upload.csv")[-1][:200] or "upload.csv"
        return provider, file_name, bytes(parts["file"][1])

    def _rows(self, text: str, upload: Upload):
        """The rows as raw DataHub events (dicts the family's model validates), header checked first."""
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        try:
            header = next(reader, None)
            if header is None:
                raise BadRequest("The file is empty: it needs a header line and at least one row.")
            upload.columns = _columns(header)
            index = 0
            line = reader.line_num + 1
            for row in reader:
                start, line = line, reader.line_num + 1
                if not row:  # a blank line
                    continue
                if index >= self.limits.max_events:
                    raise BadRequest(f"The file has more than {self.limits.max_events} rows; the limit is "
                                     f"{self.limits.max_events} rows per upload.")
                upload.lines.append(start)
                yield self._event(row, index, upload, digest)
                index += 1
        except csv.Error as exc:
            raise BadRequest(f"The file is not valid CSV at line {reader.line_num}: {exc}.") from exc
        if not upload.lines:
            raise BadRequest("The file has a header but no rows; send at least one row.")

    @staticmethod
    def _event(row: list[str], index: int, upload: Upload, digest: str) -> dict:
        if len(row) != len(upload.columns):
            upload.field_errors[index] = (f"the row has {len(row)} fields; the header has {len(upload.columns)}")
            upload.row_columns.append(([], []))
            return {}
        event: dict[str, Any] = {"provider": upload.provider, "dimensions": [], "metrics": []}
        dimensions, metrics = [], []
        for column, value in zip(upload.columns, row):
            if column.kind == "usage_date":
                event["time"] = value
            elif column.kind == "id":
                if value:
                    event["id"] = value
            elif value == "":
                continue  # an empty cell: this row has no such dimension or metric
            elif column.kind == "dimension":
                event["dimensions"].append({"type": column.type, "key": column.key, "value": value})
                dimensions.append(column)
            else:
                number = float(value) if _NUMBER.fullmatch(value.strip()) else value
                event["metrics"].append({"type": column.type, "value": number})
                metrics.append(column)
        if "id" not in event:
            # Derived from the file's content (decompressed) and the row's place: an upload of the
            # same file, however compressed, lands on the same items.
            event["id"] = str(uuid.uuid5(DERIVED_IDS, f"csv/{upload.provider}/{digest}/{index}"))
        upload.row_columns.append((dimensions, metrics))
        return event

    def extract(self, document: object, request: Request, limits: Limits) -> list:
        return document.rows  # type: ignore[attr-defined]  (parse's Upload)

    # --- validation, named by row and column -----------------------------------------------------

    def validate_request(self, raw_events: list, request: Request) -> tuple[list, dict[int, list[Violation]]]:
        upload = _current(request)
        models, errors = self.validate(raw_events)
        errors = dict(errors)
        for index, message in upload.field_errors.items():
            errors[index] = [Violation(index, f"row {upload.lines[index]}", message)]
        for index, violations in list(errors.items()):
            if index in upload.field_errors:
                continue
            errors[index] = [Violation(index, _where(upload, index, violation.path), violation.message)
                             for violation in violations]
        return models, errors

    # --- the answer ------------------------------------------------------------------------------

    def render(self, outcome: Outcome) -> Response:
        upload = _current(outcome.request)
        invalid = [event for event in outcome.events if event.errors]
        if not invalid:
            batch = f"{upload.file_name}_{epoch_ms(outcome.request.received_at)}"
            return json_response(201, {"batch": batch, "ingestedRows": len(outcome.events)})
        details = "; ".join(str(violation) for event in invalid for violation in event.errors)
        return json_response(400, {
            "error": f"{len(invalid)} of {len(outcome.events)} rows are invalid and nothing was ingested "
                     f"(request {outcome.request.request_id}): {details}"})

    # --- OpenAPI ---------------------------------------------------------------------------------

    def openapi_request(self, endpoint) -> type:
        return CsvUploadRequest

    def openapi_request_media_type(self, endpoint) -> str:
        return "multipart/form-data"

    def openapi_responses(self, endpoint) -> dict:
        return {
            201: ("Every row is stored (one event each).", "application/json", CsvSuccessBody),
            400: ("Not a form with provider and file, a file that is not a CSV of the guide's shape, or bad rows "
                  "(each named by row and column); nothing stored.", "application/json", ErrorBody),
        }


def _current(request: Request) -> Upload:
    upload = _UPLOAD.get()
    if upload is None or upload.request_id != request.request_id:
        raise RuntimeError("the upload of this request was not parsed")
    return upload


def _where(upload: Upload, index: int, path: str) -> str:
    """`rows[3].metrics[1].value` (the model's path) as the row's line and its column's name."""
    line = f"row {upload.lines[index]}"
    match = re.fullmatch(r"rows\[\d+\]\.(\w+)(?:\[(\d+)\])?.*", path)
    if not match:
        return line
    name, position = match[1], match[2]
    dimensions, metrics = upload.row_columns[index]
    if name == "time":
        return f"{line}, column usage_date"
    if name == "id":
        return f"{line}, column id"
    if name in ("dimensions", "metrics") and position is not None:
        columns = dimensions if name == "dimensions" else metrics
        if int(position) < len(columns):
            return f"{line}, column {columns[int(position)].name}"
    return line


def _columns(header: list[str]) -> list[Column]:
    """The header's columns, per the guide; any mistake is a 400 naming the column."""
    columns: list[Column] = []
    seen: set[tuple[str, str, str]] = set()
    for position, name in enumerate(header, start=1):
        lowered = name.strip().lower()
        if lowered in ("usage_date", "id"):
            column = Column(name, lowered)  # type: ignore[arg-type]
        elif "." in name:
            prefix, key = name.split(".", 1)
            prefix = prefix.strip().lower()
            if not key:
                raise BadRequest(f"Header column {position} {name!r} names no key after {prefix!r}.")
            if prefix == "metric":
                column = Column(name, "metric", type=key)
            elif prefix in DIMENSION_PREFIXES:
                if prefix == "fixed":
                    key = key.lower()
                    if key not in FIXED_DIMENSION_KEYS:
                        raise BadRequest(f"Header column {position} {name!r}: {key!r} is not an allowed key for a "
                                         f"fixed dimension; allowed: {', '.join(sorted(FIXED_DIMENSION_KEYS))}.")
                column = Column(name, "dimension", type=DIMENSION_PREFIXES[prefix], key=key)
            else:
                raise BadRequest(f"Header column {position} {name!r} has an unknown prefix {prefix!r}; use "
                                 "fixed., label., project_label. or metric.")
        else:
            raise BadRequest(f"Header column {position} {name!r} is not usage_date, id, fixed.<key>, label.<key>, "
                             "project_label.<key> or metric.<type>.")
        identity = (column.kind, column.type, column.key)
        if identity in seen:
            raise BadRequest(f"Header column {position} {name!r} repeats an earlier column.")
        seen.add(identity)
        columns.append(column)
    kinds = [column.kind for column in columns]
    if "usage_date" not in kinds:
        raise BadRequest("The header has no usage_date column.")
    if "dimension" not in kinds:
        raise BadRequest("The header has no dimension column (fixed.<key>, label.<key> or project_label.<key>); "
                         "at least one is required.")
    if "metric" not in kinds:
        raise BadRequest("The header has no metric column (metric.<type>); at least one is required.")
    return columns


def _inflate(data: bytes, cap: int) -> bytes:
    """The CSV's bytes: as sent, or out of gzip or of a zip of exactly one file, under `cap` and MAX_RATIO."""
    if not data:
        raise BadRequest("The file is empty: it needs a header line and at least one row.")
    limit = max(min(cap, len(data) * MAX_RATIO), min(cap, RATIO_FREE_BYTES))
    too_big = (f"The file inflates to more than {limit:,} bytes (at most {cap:,} bytes, and at most {MAX_RATIO} "
               "times its compressed size); nothing was stored.")
    if data[:2] == b"\x1f\x8b":
        try:
            return gunzip(data, limit, "The decompressed file", "The file")
        except PayloadTooLarge as exc:
            raise BadRequest(too_big) from exc
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [info for info in archive.infolist() if not info.is_dir()]
                if len(members) != 1:
                    raise BadRequest(f"The zip holds {len(members)} files; it must hold exactly one CSV.")
                [member] = members
                if member.file_size > limit:
                    raise BadRequest(too_big)
                with archive.open(member) as stream:
                    inflated = stream.read(limit + 1)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
                ValueError) as exc:  # corrupt, encrypted, or an unsupported compression method
            raise BadRequest(f"The file is not a readable zip: {exc}.") from exc
        if len(inflated) > limit:
            raise BadRequest(too_big)
        return inflated
    if len(data) > cap:
        raise BadRequest(f"The file is {len(data):,} bytes; the limit is {cap:,} bytes.")
    return data


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        raise BadRequest("The file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadRequest("The file is UTF-16; save it as UTF-8 (without BOM).")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadRequest(f"The file is not UTF-8 (line {line}, byte {exc.start}).") from exc


FAMILY = DataHubCsvFamily()
