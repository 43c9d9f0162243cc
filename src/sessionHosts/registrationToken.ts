// Host-pool registration tokens: when to issue a new one.
//
// Time is cut into fixed windows counted from the Unix epoch. A token issued for a window
// expires `validityDays` after the window starts, and the next window starts once less than
// a third of that life is left. Every `pulumi up` inside one window therefore sends the same
// expirationTime (no diff, same token, no scale-set model change), and the first `pulumi up`
// of the next window renews the token while the old one is still valid.

const HOUR_MS = 60 * 60 * 1000;

export interface RegistrationTokenWindow {
    /** Start of the window `now` falls in: when this token was (or is) issued. */
    windowStart: Date;
    /** ISO 8601 expiration the host pool's registrationInfo is set to. */
    expirationTime: string;
    /** Start of the next window: the first `pulumi up` from then on renews the token. */
    renewFrom: Date;
}

/** Hours between renewals: two thirds of the token's life, in whole hours. */
export function renewalIntervalHours(validityDays: number): number {
    if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 27) {
        throw new RangeError(`registrationTokenValidityDays must be a whole number of days from 1 to 27, got ${validityDays}`);
    }
    return Math.round((validityDays * 24 * 2) / 3);
}

export function registrationTokenWindow(now: Date, validityDays: number): RegistrationTokenWindow {
    const intervalMs = renewalIntervalHours(validityDays) * HOUR_MS;
    const start = Math.floor(now.getTime() / intervalMs) * intervalMs;
    return {
        windowStart: new Date(start),
        expirationTime: new Date(start + validityDays * 24 * HOUR_MS).toISOString(),
        renewFrom: new Date(start + intervalMs),
    };
}
