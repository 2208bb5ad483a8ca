/**
 * A small iCalendar reader (RFC 5545) for course calendars: the VEVENTs of a file with the
 * properties a timetable needs (DTSTART, DTEND or DURATION, RRULE, EXDATE, RDATE,
 * RECURRENCE-ID, STATUS, SUMMARY, UID). Content lines are unfolded (3.1), parameters read
 * with quoting (3.2), TEXT unescaped (3.3.11); other components (VTIMEZONE, VALARM, VTODO)
 * are skipped: time zones are the IANA names of TZID, resolved by the runtime (zones.ts).
 * Errors carry the file line and the event (SUMMARY, DTSTART) for the message the user sees.
 */

/** A DATE or DATE-TIME value (3.3.4, 3.3.5). */
export interface IcsTime {
    /** "YYYY-MM-DD". */
    readonly date: string;
    /** Seconds after midnight; undefined for a DATE value (an all-day event). */
    readonly seconds?: number;
    /** "utc" (a trailing Z), "floating" (no zone: the stack's), or the TZID parameter. */
    readonly zone: string;
    /** As written, for messages. */
    readonly raw: string;
}

export interface IcsEvent {
    /** Line of BEGIN:VEVENT. */
    readonly line: number;
    readonly uid?: string;
    readonly summary?: string;
    readonly dtstart?: IcsTime;
    readonly dtend?: IcsTime;
    /** DURATION, seconds. */
    readonly durationSeconds?: number;
    /** RRULE parts, upper-case names (FREQ, BYDAY, UNTIL, COUNT, INTERVAL, WKST, ...). */
    readonly rrule?: Readonly<Record<string, string>>;
    readonly exdates: readonly IcsTime[];
    readonly rdates: readonly IcsTime[];
    readonly recurrenceId?: IcsTime;
    /** RECURRENCE-ID;RANGE=... (THISANDFUTURE is not supported by the expansion). */
    readonly recurrenceRange?: string;
    /** STATUS, upper case (CANCELLED drops the event or instance). */
    readonly status?: string;
}

/** A problem in a calendar file, at a line, in an event when there is one. */
export class IcsError extends Error {
    constructor(
        message: string,
        readonly line: number,
        readonly fix: string,
        readonly event?: Pick<IcsEvent, "summary" | "dtstart">,
    ) {
        super(message);
        this.name = "IcsError";
    }
}

interface ContentLine {
    readonly line: number;
    readonly name: string;
    readonly params: Readonly<Record<string, string>>;
    readonly value: string;
}

/** Unfolds lines (CRLF or LF, then a space or tab continues the line) and splits name;params:value. */
function contentLines(text: string): ContentLine[] {
    const raw = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
    const out: ContentLine[] = [];
    let current: { line: number; text: string } | undefined;
    const flush = () => {
        if (current && current.text.trim() !== "") out.push(splitLine(current.text, current.line));
    };
    raw.forEach((l, i) => {
        if ((l.startsWith(" ") || l.startsWith("\t")) && current) current.text += l.slice(1);
        else {
            flush();
            current = { line: i + 1, text: l };
        }
    });
    flush();
    return out;
}

function splitLine(text: string, line: number): ContentLine {
    // The value starts at the first ':' outside a quoted parameter value.
    let quoted = false;
    let colon = -1;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === '"') quoted = !quoted;
        else if (c === ":" && !quoted) {
            colon = i;
            break;
        }
    }
    if (colon < 0)
        throw new IcsError(
            `line ${line} is not an iCalendar content line (NAME:value): ${JSON.stringify(text.slice(0, 60))}`,
            line,
            "export the calendar again as an .ics (iCalendar) file",
        );
    const head = text.slice(0, colon);
    const parts: string[] = [];
    let part = "";
    quoted = false;
    for (const c of head) {
        if (c === '"') quoted = !quoted;
        if (c === ";" && !quoted) {
            parts.push(part);
            part = "";
        } else part += c;
    }
    parts.push(part);
    const params: Record<string, string> = {};
    for (const p of parts.slice(1)) {
        const eq = p.indexOf("=");
        if (eq > 0) params[p.slice(0, eq).toUpperCase()] = p.slice(eq + 1).replace(/^"(.*)"$/, "$1");
    }
    return { line, name: parts[0].toUpperCase(), params, value: text.slice(colon + 1) };
}

/** TEXT unescaping (3.3.11): \\, \;, \, and \n. */
function unescapeText(v: string): string {
    return v.replace(/\\([\\;,nN])/g, (_, c: string) => (c === "n" || c === "N" ? "\n" : c));
}

const DATE = /^(\d{4})(\d{2})(\d{2})$/;
const DATE_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$/;

/** A DATE or DATE-TIME value with its TZID / VALUE parameters. */
function parseTime(value: string, params: Readonly<Record<string, string>>, line: number, what: string): IcsTime {
    const v = value.trim();
    const d = DATE.exec(v);
    if (d && (params.VALUE === undefined || params.VALUE.toUpperCase() === "DATE"))
        return checkDate({ date: `${d[1]}-${d[2]}-${d[3]}`, zone: params.TZID ?? "floating", raw: v }, line, what);
    const t = DATE_TIME.exec(v);
    if (t) {
        const [h, m, s] = [Number(t[4]), Number(t[5]), Number(t[6])];
        if (h > 23 || m > 59 || s > 60) throw new IcsError(`${what} ${v} is not a valid time`, line, "write times as YYYYMMDDTHHMMSS, e.g. 20260907T090000");
        return checkDate(
            { date: `${t[1]}-${t[2]}-${t[3]}`, seconds: h * 3600 + m * 60 + Math.min(s, 59), zone: t[7] === "Z" ? "utc" : (params.TZID ?? "floating"), raw: v },
            line,
            what,
        );
    }
    throw new IcsError(
        `${what} ${JSON.stringify(v)} is not an iCalendar date or date-time`,
        line,
        "write dates as YYYYMMDD and date-times as YYYYMMDDTHHMMSS (optionally with a trailing Z for UTC)",
    );
}

function checkDate(t: IcsTime, line: number, what: string): IcsTime {
    const d = new Date(`${t.date}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== t.date)
        throw new IcsError(`${what} ${t.raw} is not a calendar date`, line, "check the date (month 01-12, day within the month)");
    return t;
}

const DURATION = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** A DURATION value (3.3.6) in seconds. */
function parseDuration(value: string, line: number): number {
    const m = DURATION.exec(value.trim());
    if (!m || value.trim() === "P" || value.trim().endsWith("T"))
        throw new IcsError(`DURATION ${JSON.stringify(value)} is not an iCalendar duration`, line, "write it like PT50M or PT1H15M");
    const [w, d, h, mi, s] = [2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
    return (m[1] === "-" ? -1 : 1) * (((w * 7 + d) * 24 + h) * 3600 + mi * 60 + s);
}

/** The VEVENTs of an iCalendar text, in file order. */
export function parseIcs(text: string): IcsEvent[] {
    if (!/^\uFEFF?\s*BEGIN:VCALENDAR\s*$/im.test(text.split(/\r\n|\n|\r/).find((l) => l.trim() !== "") ?? "")) {
        throw new IcsError(
            "the file has no BEGIN:VCALENDAR: it is not an iCalendar file",
            1,
            "export the course calendar as .ics (iCalendar), e.g. 'Export calendar' in Google Calendar, Outlook or Moodle",
        );
    }
    const lines = contentLines(text);
    const events: IcsEvent[] = [];
    const stack: string[] = [];
    let ev: ({ -readonly [K in keyof IcsEvent]: IcsEvent[K] } & { exdates: IcsTime[]; rdates: IcsTime[] }) | undefined;
    for (const l of lines) {
        if (l.name === "BEGIN") {
            const comp = l.value.trim().toUpperCase();
            stack.push(comp);
            if (comp === "VEVENT" && stack.length === 2 && stack[0] === "VCALENDAR") ev = { line: l.line, exdates: [], rdates: [] };
            continue;
        }
        if (l.name === "END") {
            const comp = l.value.trim().toUpperCase();
            if (stack[stack.length - 1] !== comp)
                throw new IcsError(
                    `END:${comp} does not close BEGIN:${stack[stack.length - 1] ?? "(nothing)"}`,
                    l.line,
                    "the file is cut or malformed: export it again",
                );
            stack.pop();
            if (comp === "VEVENT" && ev && stack.length === 1) {
                events.push(ev);
                ev = undefined;
            }
            continue;
        }
        // Properties of the event itself, not of a VALARM inside it.
        if (!ev || stack.length !== 2) continue;
        const at = (what: string) => parseTime(l.value, l.params, l.line, what);
        switch (l.name) {
            case "UID":
                ev.uid = l.value.trim();
                break;
            case "SUMMARY":
                ev.summary = unescapeText(l.value).trim();
                break;
            case "DTSTART":
                ev.dtstart = at("DTSTART");
                break;
            case "DTEND":
                ev.dtend = at("DTEND");
                break;
            case "DURATION":
                ev.durationSeconds = parseDuration(l.value, l.line);
                break;
            case "STATUS":
                ev.status = l.value.trim().toUpperCase();
                break;
            case "RECURRENCE-ID":
                ev.recurrenceId = at("RECURRENCE-ID");
                ev.recurrenceRange = l.params.RANGE?.toUpperCase();
                break;
            case "RRULE": {
                const rule: Record<string, string> = {};
                for (const part of l.value.trim().split(";")) {
                    const eq = part.indexOf("=");
                    if (eq > 0) rule[part.slice(0, eq).toUpperCase()] = part.slice(eq + 1).toUpperCase();
                }
                ev.rrule = rule;
                break;
            }
            case "EXDATE":
            case "RDATE":
                if (l.params.VALUE?.toUpperCase() === "PERIOD")
                    throw new IcsError(`${l.name};VALUE=PERIOD is not supported`, l.line, `list the dates as date-times (${l.name}:20261012T090000)`, ev);
                for (const v of l.value.split(",")) (l.name === "EXDATE" ? ev.exdates : ev.rdates).push(parseTime(v, l.params, l.line, l.name));
                break;
        }
    }
    if (stack.length > 0)
        throw new IcsError(`BEGIN:${stack[stack.length - 1]} is never closed`, lines[lines.length - 1]?.line ?? 1, "the file is cut: export it again");
    return events;
}
