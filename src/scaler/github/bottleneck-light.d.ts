// bottleneck ships types for its main entry only; light.js is the same API without clustering, and the build
// @octokit/plugin-throttling itself schedules through (importing it keeps one copy of Bottleneck in the bundle).
declare module "bottleneck/light.js" {
  import Bottleneck from "bottleneck";
  export default Bottleneck;
}
