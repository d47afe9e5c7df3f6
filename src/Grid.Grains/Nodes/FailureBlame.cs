namespace Grid.Nodes;

/// <summary>
/// Whose fault a workload's failure is, by its reason (<see cref="WorkloadReasons"/>): only failures the node caused
/// count towards its quarantine. The tenant's are those the same workload would meet on any node: its image (cannot be
/// pulled, wrong digest, not an image, no such entrypoint), its program (exit code, more memory than it reserved) or
/// a spec this grid does not run (refused, unsupported). A node that honestly lacks a feature is not at fault either
/// (the reservation could have asked for it). What is left is the node's: it could not start a valid workload
/// (start-failed), ran out of space it had promised, lost a volume it holds, or failed without saying why.
/// </summary>
public static class FailureBlame
{
    /// <summary>True when a failure for <paramref name="reason"/> counts against the node that reported it.</summary>
    public static bool CountsAgainstNode(string? reason) => reason switch
    {
        WorkloadReasons.ImagePullFailed or WorkloadReasons.DigestMismatch or WorkloadReasons.NotAnImage
            or WorkloadReasons.NoSuchEntrypoint or WorkloadReasons.ExitCode or WorkloadReasons.OomKilled
            or WorkloadReasons.Refused or WorkloadReasons.Unsupported => false,
        WorkloadReasons.FeatureMissing => false,
        _ => true,
    };
}
