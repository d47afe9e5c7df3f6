using System.Runtime.Versioning;

// The agent runs workloads through /bin/sh and signals them with kill(2): its tests are for Linux.
[assembly: SupportedOSPlatform("linux")]
