// The error every wait rejects with once a tool is asked to stop (SIGINT/SIGTERM). Its own module
// so the ARM client can throw it without importing the tools' harness.

/** The tool was asked to stop while it waited; `where` says what it was waiting for. */
export class StopRequested extends Error {
    constructor(readonly where = "") {
        super(`stopped on request${where ? ` while waiting for ${where}` : ""}`);
        this.name = "StopRequested";
    }
}
