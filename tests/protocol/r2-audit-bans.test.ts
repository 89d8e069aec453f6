/**
 * §11 "`POST /api/rooms/:roomId/bans { userId, … }` (`userId` a string …)":
 * any user a token names can be banned. A `sub` has no length limit (§1), so
 * a long user id is banned, listed and lifted like any other, and the user's
 * way in is refused `forbidden`.
 */
import { startApp, stopAllApps } from "../helpers/app";
import { request as http } from "../helpers/http";
import { signToken } from "../helpers/tokens";

afterAll(() => stopAllApps());

test("a user whose id is 300 characters long can be banned, listed and lifted", async () => {
  const server = await startApp();
  const userId = `long-${"u".repeat(295)}`;
  const roomId = `bans-${process.pid}`;
  const mod = { authorization: `Bearer ${signToken({ sub: "the-mod", role: "moderator" })}` };
  const user = { authorization: `Bearer ${signToken({ sub: userId })}` };
  const bans = `${server.url}/api/rooms/${roomId}/bans`;

  const banned = await http(bans, { method: "POST", headers: mod, body: { userId } });
  expect([banned.status, banned.body]).toEqual([200, { ban: { roomId, userId, until: null } }]);
  expect((await http(bans, { headers: mod })).body).toEqual({ bans: [{ roomId, userId, until: null }] });
  const refused = await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: user });
  expect([refused.status, refused.body.error.code]).toEqual([403, "forbidden"]);

  const lifted = await http(`${bans}/${userId}`, { method: "DELETE", headers: mod });
  expect([lifted.status, lifted.body]).toEqual([200, {}]);
  expect((await http(`${server.url}/api/rooms/${roomId}/messages`, { headers: user })).status).toBe(200);
});
