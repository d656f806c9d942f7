export { startMesh, type Mesh, type MeshOptions, type ServiceProcess } from "./mesh.js";
export { ManagedProcess } from "./child-process.js";
export { startNatsServer, findNatsServer } from "./nats-server.js";
export { freePort } from "./free-port.js";
export { ServiceStartError } from "./service-start-error.js";
