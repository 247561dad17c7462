import Foundation

/// How one rule fared in an evaluation.
public struct RuleTrace: Sendable {
    public let rule: Rule
    public let applied: Bool
    /// `applies`, or why not: the first condition that failed, an `unless` that held, or dates out of force.
    public let note: String
}

/// A decision with the reasons for it, rule by rule: what `policy explain` prints.
public struct Explanation: Sendable {
    public let decision: Decision
    public let traces: [RuleTrace]
    /// The warrant check, if any rule consulted it.
    public let warrant: WarrantCheck?
}

extension Evaluator {
    /// Evaluates like ``evaluate(_:registry:)`` and also reports, for every rule, whether it applied and, if not, the
    /// first condition that failed.
    public func explain(_ input: EvaluationInput, registry: any DocumentRegistry) -> Explanation {
        let decision = evaluate(input, registry: registry)
        var context = Context(input: input, registry: registry, verifier: verifier, policy: policy)
        var traces: [RuleTrace] = []
        for rule in policy.rules {
            guard isInForce(rule, at: input.time) else {
                let from = rule.effectiveFrom.map { " from \($0)" } ?? ""
                let until = rule.effectiveUntil.map { " until \($0)" } ?? ""
                traces.append(RuleTrace(rule: rule, applied: false, note: "not in force on this date (effective\(from)\(until))"))
                continue
            }
            do {
                traces.append(try trace(rule, &context))
            } catch {
                traces.append(RuleTrace(rule: rule, applied: false, note: "could not be evaluated, so the request is denied: \(error)"))
            }
        }
        return Explanation(decision: decision, traces: traces, warrant: context.warrant)
    }

    /// Reads `rule` as ``Evaluator/applies(_:_:)`` does, `document` tests with the same reach (``Context/allowing``),
    /// and says which part decided.
    private func trace(_ rule: Rule, _ context: inout Context) throws -> RuleTrace {
        defer { context.allowing = true }
        context.allowing = rule.effect == .permit
        let parts: [Condition]
        if case .all(let conjuncts) = rule.when { parts = conjuncts } else { parts = [rule.when] }
        for part in parts where try !context.holds(part) {
            var note = "when: \(part.summary) does not hold"
            if case .warrantVerified = part, case .failed(let failure)? = context.warrant { note += " (\(failure.reason.rawValue))" }
            return RuleTrace(rule: rule, applied: false, note: note + (try signatureNote(part, context)))
        }
        context.allowing = rule.effect != .permit
        if let unless = rule.unless {
            if try context.holds(unless) { return RuleTrace(rule: rule, applied: false, note: "unless: \(unless.summary) holds") }
            return RuleTrace(rule: rule, applied: true, note: "applies" + (try signatureNote(unless, context)))
        }
        return RuleTrace(rule: rule, applied: true, note: "applies")
    }

    /// `; warrant <ref> signature is <status>` when `condition` failed on the verified warrant's signature.
    private func signatureNote(_ condition: Condition, _ context: Context) throws -> String {
        guard case .verified(let reference)? = context.warrant, let document = try context.registry.document(reference: reference),
              condition.refusesOnlySignature(of: document)
        else { return "" }
        return "; warrant \(reference) signature is \(document.signature.description)"
    }
}
