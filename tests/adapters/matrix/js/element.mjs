// An Element-like member in an encrypted war room: matrix-js-sdk with its Rust crypto, set to
// read from and share keys with only devices their owners cross-signed ("exclude insecure
// devices"). Once its device is up it says `{"ready": …}` and waits to be invited into the room;
// then it joins, reads an event the bot sent before (`history`, its id), sends a command and
// waits for the bot's answer (`expected`).
//
// node element.mjs <homeserver> <user id> <password> <room id> <bot user id> <command> <expected>
//     [<history>]
//
// Ends with one JSON line: what it read from the bot, and how; exits 1 (saying why) otherwise.

import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

const [homeserver, userId, password, roomId, botUserId, command, expected, history] =
    process.argv.slice(2);
const SECONDS = Number(process.env.ELEMENT_WAIT_SECONDS ?? "60");

logger.setLevel(process.env.ELEMENT_DEBUG ? "debug" : "error");

let stage = "logging in";
function fail(why, details = {}) {
    console.log(JSON.stringify({ ok: false, why, stage, ...details }));
    process.exit(1);
}

let lastFailure = null; // why the latest bot message could not be read, if one could not
setTimeout(() => fail(`gave up after ${SECONDS}s`, { lastFailure }), SECONDS * 1000).unref();

const login = await sdk.createClient({ baseUrl: homeserver }).loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: userId },
    password,
    initial_device_display_name: "Element-like test client",
});
const client = sdk.createClient({
    baseUrl: homeserver,
    userId: login.user_id,
    accessToken: login.access_token,
    deviceId: login.device_id,
});
await client.initRustCrypto({ useIndexedDB: false });
const crypto = client.getCrypto();
crypto.setDeviceIsolationMode(new sdk.Crypto.OnlySignedDevicesIsolationMode());
// In this mode a client sends nothing until its own account is cross-signed, as Element's is.
await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: (makeRequest) =>
        makeRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: userId },
            password,
        }),
});

const botEvents = [];
client.on(sdk.RoomEvent.Timeline, (event, room) => {
    if (room?.roomId === roomId && event.getSender() === botUserId) botEvents.push(event);
});

await new Promise((resolve) => {
    client.once(sdk.ClientEvent.Sync, (state) => state === "PREPARED" && resolve());
    client.startClient({ initialSyncLimit: 20 });
});
console.log(JSON.stringify({ ready: login.device_id }));
stage = "waiting for the invite";
while (client.getRoom(roomId)?.getMyMembership() !== "invite") {
    await new Promise((resolve) => setTimeout(resolve, 100));
}
stage = "joining";
// Know the bot's devices before its room keys arrive, as a client that shared a room with it
// would: in this mode a key from a device not yet known is refused.
await crypto.getUserDeviceInfo([botUserId], true);
await client.joinRoom(roomId);
// The room's encryption is set up from its state, once the join has come back in a sync.
const joined = () => client.getRoom(roomId)?.getMyMembership() === "join";
while (!(joined() && (await crypto.isEncryptionEnabledInRoom(roomId)))) {
    await new Promise((resolve) => setTimeout(resolve, 100));
}

async function readable(event) {
    await client.decryptEventIfNeeded(event);
    if (event.isDecryptionFailure() && event.decryptionFailureReason === "UNKNOWN_SENDER_DEVICE") {
        // The device list may have lagged behind the key: fetch it again and retry once, as
        // Element does when the sender's devices change.
        await crypto.getUserDeviceInfo([botUserId], true);
        await event.attemptDecryption(crypto, { isRetry: true });
    }
    if (event.isDecryptionFailure()) {
        lastFailure = event.decryptionFailureReason;
        return { failure: lastFailure };
    }
    const info = await crypto.getEncryptionInfoForEvent(event);
    return {
        body: event.getContent().body ?? "",
        shield: info ? sdk.Crypto.EventShieldReason[info.shieldReason] ?? null : null,
    };
}

async function answerTo(from) {
    for (;;) {
        for (const event of botEvents.slice(from)) {
            if (event.getType() === "m.room.member") continue;
            const read = await readable(event);
            if (read.failure) fail("a bot message stayed unreadable", read);
            if (read.body.includes(expected)) return read;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

async function earlier(eventId) {
    for (;;) {
        const event = botEvents.find((candidate) => candidate.getId() === eventId);
        const read = event ? await readable(event) : null;
        if (read && !read.failure) return read;
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

stage = "reading what the bot sent before";
const read = history ? await earlier(history) : null;
stage = "waiting for the answer";
const before = botEvents.length; // what the bot sent before the command is not its answer
await client.sendTextMessage(roomId, command);
const answer = await answerTo(before);
const device = await crypto.getDeviceVerificationStatus(botUserId, (await botDeviceId()) ?? "");

async function botDeviceId() {
    const devices = await crypto.getUserDeviceInfo([botUserId], true);
    const ids = [...(devices.get(botUserId)?.keys() ?? [])];
    return ids[0];
}

console.log(
    JSON.stringify({
        ok: true,
        history: read?.body ?? null,
        answer: answer.body,
        shield: answer.shield,
        bot_device_signed_by_owner: device?.signedByOwner ?? false,
    }),
);
client.stopClient();
process.exit(0);
