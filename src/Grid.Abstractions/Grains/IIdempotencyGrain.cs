using Orleans.CodeGeneration;
namespace Grid.Grains;

/// <summary>Remembers the first successful result of a request made with an Idempotency-Key. Key: "twin/key".</summary>
[Alias("grid.IIdempotencyGrain")]
[Version(1)]
public interface IIdempotencyGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the reservation once; later calls with the same request return the first result. A different
    /// request under the same key throws <see cref="IdempotencyConflictException"/>.
    /// </summary>
    [Alias("Reserve")]
    Task<ReservationOutcome> ReserveAsync(ReservationRequest request);
}

/// <summary>An Idempotency-Key was reused with a different request.</summary>
[GenerateSerializer, Alias("grid.IdempotencyConflictException")]
public sealed class IdempotencyConflictException : Exception
{
    public IdempotencyConflictException()
        : base("The Idempotency-Key was already used with a different request.")
    {
    }

    public IdempotencyConflictException(string message)
        : base(message)
    {
    }

    public IdempotencyConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
