export { startMesh, type Mesh, type MeshOptions, type ServiceProcess } from "./mesh.js";
export { ManagedProcess } from "./child-process.js";
export { startNatsServer, findNatsServer } from "./nats-server.js";
export { assertPortsFree, freePort, freePortRange, portFree, PortInUseError, type PortUse } from "./free-port.js";
export { CHILDREN_FOLLOW_PARENT } from "./child-process.js";
export { ServiceStartError } from "./service-start-error.js";
