namespace Grid;

/// <summary>Reservation priorities (like Nomad's job priority): 0–100, 50 by default, preempting needs a gap of 10.</summary>
public static class ReservationPriority
{
    public const int Min = 0;

    public const int Max = 100;

    public const int Default = 50;

    /// <summary>A reservation preempts another that is not spot only when it is at least this many points higher.</summary>
    public const int PreemptionGap = 10;

    /// <summary>
    /// True when a reservation at <paramref name="priority"/> (<paramref name="spot"/> or not) may preempt one at
    /// <paramref name="victimPriority"/>: spot capacity always gives way to what is not spot; otherwise the gap decides.
    /// </summary>
    public static bool MayPreempt(int priority, bool spot, int victimPriority, bool victimSpot) =>
        (victimSpot && !spot) || priority - victimPriority >= PreemptionGap;
}
