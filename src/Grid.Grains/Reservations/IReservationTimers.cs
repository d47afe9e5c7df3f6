namespace Grid.Reservations;

/// <summary>
/// The grain-context operations <see cref="ReservationMoves"/> needs and only its grain can do: one-shot timers on
/// the grain's turns, and the retry reminder that survives a silo loss.
/// </summary>
public interface IReservationTimers
{
    /// <summary>Runs <paramref name="callback"/> once, after <paramref name="dueTime"/>, as a turn of the grain.</summary>
    IGrainTimer StartTimer(Func<Task> callback, TimeSpan dueTime);

    /// <summary>Registers reminder <paramref name="name"/> (or updates it) to fire every <paramref name="period"/>, first after one period.</summary>
    Task KeepReminderAsync(string name, TimeSpan period);

    /// <summary>Unregisters reminder <paramref name="name"/> if it is registered.</summary>
    Task StopReminderAsync(string name);
}
