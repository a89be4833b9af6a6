// Type-checked, never run: a program written against the seed API's types
// (the original rmqtt-js README) must compile against our declarations, and
// misuse must not. `test/types.test.js` runs tsc on this folder.

import MqttServerDefault, {
  MqttServer,
  QoS,
  type AuthenticationRequest,
  type AuthenticationResult,
  type ClientSubscribeHook,
  type ClientUnsubscribeHook,
  type ConnackInfo,
  type ConnectInfo,
  type HookCallbacks,
  type ListenerConfig,
  type MessageDeliveredHook,
  type MessageFrom,
  type MessageInfo,
  type MessagePublishHook,
  type MqttMessage,
  type MultiProtocolOptions,
  type PublishAuthorizeResult,
  type PublishOptions,
  type ServerConfig,
  type SessionInfo,
  type SubscribeAuthorizeResult,
  type SubscribeOptions,
  type SubscriptionInfo,
  type UnsubscriptionInfo,
} from "rmqtt-js";

const server: MqttServer = new MqttServerDefault();

const authenticate = (auth: AuthenticationRequest): AuthenticationResult => ({
  allow: auth.username !== null && auth.password === "demo" && auth.protocolVersion >= 3,
  superuser: false,
  reason: auth.clientId,
});

const subscribeAcl = async (session: SessionInfo | null, sub: SubscriptionInfo): Promise<SubscribeAuthorizeResult> =>
  sub.topicFilter.startsWith(`${session?.username ?? ""}/`) ? { allow: true, qos: QoS.AtLeastOnce } : { allow: false };

const publishAcl = (session: SessionInfo | null, packet: MqttMessage): PublishAuthorizeResult => ({
  allow: !packet.topic.startsWith("$SYS"),
  topic: `users/${session?.username ?? "anon"}/out`,
  payload: Buffer.from(packet.payload.toString("utf8").toUpperCase()),
  qos: 0,
});

const onPublish: MessagePublishHook = (_s, from: MessageFrom, msg: MessageInfo) => {
  const t: number = msg.createTime + from.node;
  void t;
};
const onSubscribe: ClientSubscribeHook = (s, sub) => void `${s.clientId} ${sub.qos}`;
const onUnsubscribe: ClientUnsubscribeHook = (s, unsub) => void `${s.clientId} ${unsub.topicFilter}`;
const onDelivered: MessageDeliveredHook = (_s, from, m) => void `${from.type} ${m.topic}`;

const hooks: HookCallbacks = {
  onClientAuthenticate: authenticate,
  onClientSubscribeAuthorize: subscribeAcl,
  onClientPublishAuthorize: publishAcl,
  onMessagePublish: onPublish,
  onMessageDelivered: (s, from, m) => s && onDelivered(s, from, m),
  onMessageDropped: (_s, from, message, info) => void `${from?.type ?? "unknown"} ${message.topic} ${info?.reason ?? "n/a"}`,
  onClientConnect: (info: ConnectInfo) => void `${info.protoVer} ${info.cleanSession ?? info.cleanStart}`,
  onClientConnack: (info: ConnackInfo) => void info.connAck,
  onClientDisconnected: (session, info) => void `${session.clientId} ${info?.reason}`,
};

// One call per concern, as the seed README does; each call adds to the set.
server.setHooks(hooks);
server.setHooks({
  onClientSubscribe: (s, sub) => s && onSubscribe(s, sub),
  onClientUnsubscribe: (s, unsub) => s && onUnsubscribe(s, unsub),
});

const listener: ListenerConfig = { name: "tcp", address: "0.0.0.0", port: 1883, protocol: "tcp", allowAnonymous: true };
const config: ServerConfig = { listeners: [listener], pluginsConfigDir: "/etc/rmqtt/plugins" };
const basic: ServerConfig = MqttServer.createBasicConfig(1883);
const multiOptions: MultiProtocolOptions = { tcpPort: 1883, wsPort: 8080, tlsPort: 8883, wssPort: 8443, address: "0.0.0.0", allowAnonymous: true };
const multi: ServerConfig = MqttServer.createMultiProtocolConfig(multiOptions);
const publishOptions: PublishOptions = { qos: QoS.ExactlyOnce, retain: true };
const subscribeOptions: SubscribeOptions = { qos: QoS.AtMostOnce };
void [config, basic, multi, subscribeOptions];

export async function main(): Promise<void> {
  await server.start(MqttServer.createBasicConfig(1883));
  await server.publish("sensor/temperature", "23.7", { qos: QoS.AtLeastOnce });
  await server.publish("hello/world", Buffer.from("hi"), publishOptions);
  const running: boolean = server.running;
  void running;
  await server.stop();
  server.close();
}

// Misuse the declarations must refuse.
// @ts-expect-error: QoS is 0, 1 or 2
server.publish("t", "x", { qos: 3 });
// @ts-expect-error: an unknown hook name
server.setHooks({ onClientAuthenticated: authenticate });
// @ts-expect-error: a decision must say whether it allows
server.setHooks({ onClientAuthenticate: () => ({ superuser: true }) });
// @ts-expect-error: the payload is a string or a Buffer
server.publish("t", 42);
// @ts-expect-error: listeners are required
server.start({});
