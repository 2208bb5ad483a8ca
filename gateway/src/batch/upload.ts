/**
 * POST /v1/files, streamed (issue 23 point 2): the multipart body is parsed as it arrives and
 * the file goes into Valkey a piece at a time, the socket read only as fast as Valkey takes the
 * pieces. A gateway holds at most about UPLOAD_WINDOW_BYTES per upload whatever the file's size,
 * and that window is what the upload counts in the body budget (gate.ts). The limits come first:
 * the team's maxFileBytes against the declared length, then its storage quota and the store's
 * room (quota.ts), all before a byte of the body is read.
 */
import type { IncomingMessage } from "http";
import { errors, GatewayError } from "../errors";
import type { BatchConfig } from "./config";
import { batchLimits } from "./config";
import { boundaryOf, MultipartParser } from "./multipart";
import type { StorageQuota } from "./quota";
import type { BatchStore } from "./store";

/** Bytes of file data sent to Valkey at once. */
const UPLOAD_PIECE_BYTES = 1024 * 1024;
/** What one upload holds in memory at most: a piece being filled, one being written, and the socket's buffer. */
export const UPLOAD_WINDOW_BYTES = 2 * UPLOAD_PIECE_BYTES + 64 * 1024;
/** Room around the file in a multipart body: boundaries, part headers, the small fields. */
export const MULTIPART_SLACK_BYTES = 64 * 1024;

export interface UploadRequest {
    readonly id: string;
    readonly team: string;
    readonly body: IncomingMessage;
    readonly contentType: string | undefined;
    readonly contentLength: number;
    /** When the request must have arrived (the server's requestTimeout): the reservation and the partial data lapse after it. */
    readonly deadlineMs: number;
}

export interface UploadResult {
    /** The body had a 'file' part. */
    file: boolean;
    purpose: string | undefined;
    filename: string | undefined;
    bytes: number;
    /** The small form fields (expires_after[anchor], ...). */
    fields: Map<string, string>;
}

const fileTooLarge = (bytes: number | string, limit: number) =>
    new GatewayError(
        413,
        "invalid_request_error",
        "file_too_large",
        `The file is ${bytes} bytes, over this team's limit of ${limit} bytes (batch.limits maxFileBytes)`,
    );

/**
 * Receives an upload into the store under `req.id` (its data key), after reserving its room.
 * Resolves with what was received (the caller checks the fields and commits); on any failure the
 * partial data and the reservation are dropped and the error is thrown.
 */
export async function receiveUpload(store: BatchStore, quota: StorageQuota, cfg: BatchConfig, req: UploadRequest): Promise<UploadResult> {
    const boundary = boundaryOf(req.contentType);
    const limit = batchLimits(cfg, req.team).maxFileBytes;
    if (req.contentLength > limit + MULTIPART_SLACK_BYTES) throw fileTooLarge(`at least ${req.contentLength - MULTIPART_SLACK_BYTES}`, limit);
    const reserved = Number.isFinite(req.contentLength) ? Math.min(req.contentLength, limit) : limit;
    await quota.reserveUpload(req.team, req.id, reserved, req.deadlineMs);
    const k = store.keys;
    const member = `${req.team} ${req.id}`;
    const fields = new Map<string, string>();
    let fieldBytes = 0;
    let current: string | undefined;
    let sawFile = false;
    let filename: string | undefined;
    let bytes = 0;
    let piece: Buffer[] = [];
    let pieceBytes = 0;
    let written = false;
    let failure: GatewayError | undefined;
    const parser = new MultipartParser(boundary, {
        part(head) {
            current = head.name;
            if (head.name !== "file") return;
            if (sawFile) throw errors.badRequest("The multipart body has two 'file' parts; upload one file at a time", "invalid_multipart");
            sawFile = true;
            filename = head.filename;
        },
        data(b) {
            if (current === "file") {
                bytes += b.length;
                if (bytes > limit) throw (failure = fileTooLarge(`more than ${limit}`, limit));
                piece.push(b); // a view: the parser hands out fresh chunks, nothing else holds them
                pieceBytes += b.length;
                return;
            }
            fieldBytes += b.length;
            if (fieldBytes > MULTIPART_SLACK_BYTES)
                throw errors.badRequest(`The form fields besides 'file' are over ${MULTIPART_SLACK_BYTES} bytes`, "invalid_multipart");
            fields.set(current!, (fields.get(current!) ?? "") + b.toString("utf8"));
        },
    });
    const flush = async () => {
        const data = piece.length === 1 ? piece[0] : Buffer.concat(piece, pieceBytes);
        piece = [];
        pieceBytes = 0;
        const r = await store.redis.uploadPiece(
            k.fileData(req.id),
            k.pending,
            data,
            member,
            written ? "0" : "1",
            String(Math.max(1, req.deadlineMs - Date.now())),
        );
        if (r !== 1)
            throw new GatewayError(
                408,
                "invalid_request_error",
                "upload_timeout",
                "The upload did not arrive in time (batch.uploadTimeoutSeconds); send it again",
            );
        written = true;
    };
    try {
        // Pulling the next chunk only after the previous piece is stored is the back-pressure.
        for await (const chunk of req.body as AsyncIterable<Buffer>) {
            parser.push(chunk);
            if (pieceBytes >= UPLOAD_PIECE_BYTES) await flush();
        }
        parser.end();
        if (pieceBytes > 0 || !written) await flush();
        return { file: sawFile, purpose: fields.get("purpose"), filename, bytes, fields };
    } catch (e) {
        await Promise.all([store.redis.del(k.fileData(req.id)).catch(() => undefined), quota.releaseUpload(req.team, req.id).catch(() => undefined)]);
        throw failure ?? e;
    }
}

/** Lists the received file (data and object expire together after `ttl` seconds) and releases its reservation. */
export async function commitUpload(store: BatchStore, req: Pick<UploadRequest, "id" | "team">, h: Record<string, string>, ttl: number): Promise<void> {
    const k = store.keys;
    const member = `${req.team} ${req.id}`;
    const r = await store.redis.commitUpload(
        k.file(req.id),
        k.fileData(req.id),
        k.files(req.team),
        k.teamPending(req.team),
        k.pending,
        k.pendingDeadlines,
        req.id,
        String(ttl),
        String(Date.now()),
        member,
        ...Object.entries(h).flat(),
    );
    if (r !== 1)
        throw new GatewayError(408, "invalid_request_error", "upload_timeout", "The upload did not arrive in time (batch.uploadTimeoutSeconds); send it again");
}

/** Drops a received upload that is not committed (a bad field after the file arrived). */
export async function discardUpload(store: BatchStore, quota: StorageQuota, req: Pick<UploadRequest, "id" | "team">): Promise<void> {
    await Promise.all([store.redis.del(store.keys.fileData(req.id)).catch(() => undefined), quota.releaseUpload(req.team, req.id).catch(() => undefined)]);
}
