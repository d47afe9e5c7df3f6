using System.Collections.Frozen;

namespace Grid.Reservations;

/// <summary>
/// A reservation's lifecycle as a table: which trigger moves which state to which. A step missing from the table is
/// illegal; the grain asks <see cref="Allows"/> where a trigger may not apply (a pinned reservation already lost, a
/// move in grace) and fires only legal steps. <see cref="ReservationState.Pending"/> is the state of a record not
/// written yet; <see cref="ReservationState.Cancelled"/> is final; <see cref="ReservationState.Preempted"/> waits for room.
/// </summary>
public static class ReservationLifecycle
{
    private static readonly ReservationState[] Placed = [ReservationState.Active, ReservationState.Migrating, ReservationState.Unschedulable, ReservationState.Lost];

    private static readonly FrozenDictionary<(ReservationState From, ReservationTrigger Trigger), ReservationState> Steps = Table().ToFrozenDictionary();

    /// <summary>Every legal step.</summary>
    public static IEnumerable<(ReservationState From, ReservationTrigger Trigger, ReservationState To)> LegalSteps =>
        Steps.Select(step => (step.Key.From, step.Key.Trigger, step.Value));

    /// <summary>The state <paramref name="trigger"/> leads to from <paramref name="from"/>, or null when the step is illegal.</summary>
    public static ReservationState? Next(ReservationState from, ReservationTrigger trigger) =>
        Steps.TryGetValue((from, trigger), out var to) ? to : null;

    public static bool Allows(ReservationState from, ReservationTrigger trigger) => Steps.ContainsKey((from, trigger));

    /// <summary>The next state; an illegal step is a bug in the caller, never a tenant's error.</summary>
    public static ReservationState Fire(ReservationState from, ReservationTrigger trigger) =>
        Next(from, trigger) ?? throw new InvalidOperationException($"A reservation cannot go through {trigger} while {from}.");

    private static IEnumerable<KeyValuePair<(ReservationState, ReservationTrigger), ReservationState>> Table()
    {
        yield return Step(ReservationState.Pending, ReservationTrigger.Placed, ReservationState.Active);

        // Anything placed, in grace included, can be cancelled; a cancelled reservation is not cancelled again (a
        // retried cancel only repeats the releases).
        foreach (var from in (ReservationState[])[.. Placed, ReservationState.Grace])
        {
            yield return Step(from, ReservationTrigger.Cancel, ReservationState.Cancelled);
        }

        foreach (var from in Placed)
        {
            yield return Step(from, ReservationTrigger.NoNodeFits, ReservationState.Unschedulable);
            yield return Step(from, ReservationTrigger.Moved, ReservationState.Active);
            yield return Step(from, ReservationTrigger.MovedBeforeBreak, ReservationState.Migrating);
            if (from != ReservationState.Lost)
            {
                yield return Step(from, ReservationTrigger.PinnedNodeDown, ReservationState.Lost);
            }
        }

        // Grace ends only by a payment, or by the cancel once the grace period is over. A move keeps it in grace, and
        // a move is never make-before-break (nothing runs in grace, so nothing has to start before the old copy
        // stops). A down node it cannot leave keeps it in grace too: lost or unschedulable would make the node's
        // return (or a retried move) activate it unpaid.
        yield return Step(ReservationState.Grace, ReservationTrigger.Moved, ReservationState.Grace);
        yield return Step(ReservationState.Grace, ReservationTrigger.Funded, ReservationState.Active);

        // An unpaid bill puts only an active reservation in grace; in any other state its next unpaid bill once
        // active does.
        yield return Step(ReservationState.Active, ReservationTrigger.Unpaid, ReservationState.Grace);
        yield return Step(ReservationState.Migrating, ReservationTrigger.MigrationDone, ReservationState.Active);
        yield return Step(ReservationState.Lost, ReservationTrigger.NodeReturned, ReservationState.Active);

        // Preemption takes what a node that is up holds and runs (never lost or unschedulable ones, nor grace, which only
        // a payment or the cancel ends). A preempted reservation holds nothing and is not billed; it is cancelled, or
        // placed again (a move) when room appears.
        foreach (var from in (ReservationState[])[ReservationState.Active, ReservationState.Migrating])
        {
            yield return Step(from, ReservationTrigger.Preempt, ReservationState.Preempted);
        }

        yield return Step(ReservationState.Preempted, ReservationTrigger.Cancel, ReservationState.Cancelled);
        yield return Step(ReservationState.Preempted, ReservationTrigger.Moved, ReservationState.Active);
        yield return Step(ReservationState.Unschedulable, ReservationTrigger.NodeReturned, ReservationState.Active);
    }

    private static KeyValuePair<(ReservationState, ReservationTrigger), ReservationState> Step(
        ReservationState from, ReservationTrigger trigger, ReservationState to) => new((from, trigger), to);
}
