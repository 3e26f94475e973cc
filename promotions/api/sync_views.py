"""POS sync, read side: a device polls its store's bundle version, fetches the full bundle or
a delta, single promotions, and the engine. Device keys only; scoped to the device's store.

The bodies are prepared bytes (cached per release), so the views only authenticate, compare
ETags and send them.
"""

import gzip

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.views import APIView

from brands.models import Store
from core.api.errors import ErrorSerializer
from core.api.inputs import parse_input
from core.api.permissions import IsPosDevice
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from promotions.api.sync_serializers import (
    BULK_GET_MAX_IDS,
    SyncBulkGetInputSerializer,
    SyncBulkGetSerializer,
    SyncBundleSerializer,
    SyncDeltaSerializer,
    SyncPromotionSerializer,
    SyncSinceInputSerializer,
    SyncVersionSerializer,
)
from promotions.selectors import (
    SYNC_GZIP_LEVEL,
    StoreVersion,
    engine_source,
    json_list,
    json_with_raw,
    store_bundle_delta,
    store_bundle_gzip,
    store_current_promotions,
    store_version,
)

JSON = "application/json"
GZIP_SUFFIX = "-gzip"
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the copy the device holds; `304` when it is still current.",
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: the device's copy is current.")
ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No, an invalid or a revoked device key."),
    403: OpenApiResponse(ErrorSerializer, description="Not a POS device."),
}


def device_store(request) -> Store:
    store = getattr(request.auth, "store", None)
    if store is None:
        raise PermissionDeniedError(
            "This device is not assigned to a store.", code="device_without_store"
        )
    return store


def etag_matches(request, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires: a gzip variant matches its identity tag."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip().removeprefix("W/")
        if candidate == "*" or candidate.replace(GZIP_SUFFIX + '"', '"') == wanted:
            return True
    return False


def accepts_gzip(request) -> bool:
    for part in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            return not params or quality.replace("0", "").strip(".") != ""
    return False


def _not_modified(etag: str, **headers: str) -> HttpResponse:
    return HttpResponse(status=304, headers={"ETag": etag, "Cache-Control": "no-cache", **headers})


def _json(body: bytes, *, etag: str | None = None, gzipped: bool = False) -> HttpResponse:
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag:
        headers["ETag"] = etag
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return HttpResponse(body, content_type=JSON, headers=headers)


def _send(request, body: bytes, *, etag: str | None = None) -> HttpResponse:
    if accepts_gzip(request) and len(body) > 512:
        return _json(
            gzip.compress(body, compresslevel=SYNC_GZIP_LEVEL, mtime=0), etag=etag, gzipped=True
        )
    return _json(body, etag=etag)


class SyncView(APIView):
    permission_classes = [IsPosDevice]
    throttle_scope = "pos_sync"


class SyncVersionView(SyncView):
    @extend_schema(
        operation_id="sync_version",
        tags=["sync"],
        summary="The current version and hash of the store's bundle (poll it)",
        parameters=[IF_NONE_MATCH],
        responses={200: SyncVersionSerializer, 304: NOT_MODIFIED, **ERRORS},
    )
    def get(self, request):
        current = store_version(store=device_store(request))
        if etag_matches(request, current.etag):
            return _not_modified(current.etag)
        return _json(current.body, etag=current.etag)


BUNDLE_OR_DELTA = PolymorphicProxySerializer(
    component_name="SyncBundleOrDelta",
    serializers=[SyncBundleSerializer, SyncDeltaSerializer],
    resource_type_field_name=None,
)


class SyncActivePromotionsView(SyncView):
    @extend_schema(
        operation_id="sync_active_promotions",
        tags=["sync"],
        summary="The store's full bundle, or with `since` what changed since that version",
        description=(
            "The compiled promotions for the device's store valid now or within the next 24 "
            "hours, gzip-compressed when `Accept-Encoding` allows it. With `since`, a delta "
            "(`added`, `updated`, `removed`) or `full_required: true` when that version is "
            "unknown or no longer kept."
        ),
        parameters=[SyncSinceInputSerializer, IF_NONE_MATCH],
        responses={
            200: BUNDLE_OR_DELTA,
            304: NOT_MODIFIED,
            400: ErrorSerializer,
            **ERRORS,
        },
    )
    def get(self, request):
        since = parse_input(SyncSinceInputSerializer, request.query_params).get("since")
        store = device_store(request)
        current = store_version(store=store)
        if since is not None:
            return _send(request, store_bundle_delta(store=store, since=since, current=current))
        etag = current.etag
        if etag_matches(request, etag):
            return _not_modified(etag, Vary="Accept-Encoding")
        compressed = self._bundle(store, current)
        if accepts_gzip(request):
            return _json(compressed, etag=etag[:-1] + GZIP_SUFFIX + '"', gzipped=True)
        return _json(gzip.decompress(compressed), etag=etag)

    @staticmethod
    def _bundle(store: Store, current: StoreVersion) -> bytes:
        compressed = store_bundle_gzip(store=store, current=current)
        if compressed is None:
            raise NotFoundError(
                "The store's bundle is being republished; try again.", code="bundle_unavailable"
            )
        return compressed


def _promotions_for(request, ids: list[int]) -> tuple[StoreVersion, list[str], list[int]]:
    current = store_version(store=device_store(request))
    canonicals, missing = store_current_promotions(current=current, promotion_ids=ids)
    return current, canonicals, missing


class SyncPromotionView(SyncView):
    @extend_schema(
        operation_id="sync_get_promotion",
        tags=["sync"],
        summary="One compiled promotion of the store's current bundle",
        responses={
            200: SyncPromotionSerializer,
            404: OpenApiResponse(ErrorSerializer, description="Not in the store's bundle."),
            **ERRORS,
        },
    )
    def get(self, request, promotion_id: int):
        current, canonicals, _ = _promotions_for(request, [promotion_id])
        if not canonicals:
            raise NotFoundError(
                "This promotion is not in the store's current bundle.",
                code="promotion_not_in_bundle",
            )
        fields = {
            "store": current.store_id,
            "version": current.version,
            "hash": current.bundle_hash,
        }
        return _json(json_with_raw(fields, {"promotion": canonicals[0]}))


class SyncBulkGetView(SyncView):
    @extend_schema(
        operation_id="sync_bulk_get",
        tags=["sync"],
        summary=f"Compiled promotions of the store's current bundle (at most {BULK_GET_MAX_IDS})",
        request=SyncBulkGetInputSerializer,
        responses={200: SyncBulkGetSerializer, 400: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        data = request.data
        ids = data.get("ids") if isinstance(data, dict) else None
        if isinstance(ids, list) and len(ids) > BULK_GET_MAX_IDS:
            raise ApplicationError(
                f"At most {BULK_GET_MAX_IDS} ids per request.",
                code="too_many_ids",
                fields={"ids": [f"At most {BULK_GET_MAX_IDS} ids."]},
            )
        ids = parse_input(SyncBulkGetInputSerializer, data)["ids"]
        current, canonicals, missing = _promotions_for(request, ids)
        fields = {
            "store": current.store_id,
            "version": current.version,
            "hash": current.bundle_hash,
            "missing": missing,
        }
        return _send(request, json_with_raw(fields, {"promotions": json_list(canonicals)}))


class SyncEngineView(SyncView):
    @extend_schema(
        operation_id="sync_engine",
        tags=["sync"],
        summary="The exact engine.js the bundle is priced with",
        description=(
            "`X-Engine-Version` is the served engine's version, `X-Bundle-Engine-Version` the "
            "version the store's current bundle was compiled for, and `X-Engine-Matches-Bundle` "
            "says whether they agree (`false`: do not price this bundle with this engine)."
        ),
        parameters=[IF_NONE_MATCH],
        responses={
            (200, "application/javascript"): OpenApiResponse(
                OpenApiTypes.STR, description="engine.js, byte for byte."
            ),
            304: NOT_MODIFIED,
            **ERRORS,
        },
    )
    def get(self, request):
        engine = engine_source()
        current = store_version(store=device_store(request))
        headers = {
            "X-Engine-Version": engine.version,
            "X-Bundle-Engine-Version": current.engine_version,
            "X-Engine-Matches-Bundle": str(engine.version == current.engine_version).lower(),
        }
        if etag_matches(request, engine.etag):
            return _not_modified(engine.etag, **headers)
        return HttpResponse(
            engine.body,
            content_type="application/javascript; charset=utf-8",
            headers={"ETag": engine.etag, "Cache-Control": "no-cache", **headers},
        )
