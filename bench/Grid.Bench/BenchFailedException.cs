namespace Grid.Bench;

/// <summary>A correctness check of a scenario did not hold: the run fails loudly.</summary>
public sealed class BenchFailedException(string message) : Exception(message);
