// A plan feature the namespace's plan lacks (immutable tags, retention): said before any form.
import { api } from '../../api/browser';
import { ApiError, seg } from '../../api/client';
import { useSession } from '../../api/session';
import type { Organization, Paged, Plan, Usage } from '../../api/types';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

/** Why the namespace's plan lacks a feature: its plan, whose allowance it is, and a plan that has it. */
export interface FeatureGap {
  plan: string;
  payer: string;
  better: string;
}

/**
 * What the plan allows, when the reader may see the namespace's usage (its owner, an owner of its
 * organisation, an administrator): a lacking feature is said before any form. Someone else (a team
 * with admin on the repository) learns it from the API's refusal, shown where it happened.
 * Undefined while it loads.
 */
export function usePlanFeatures(namespace: string): ((feature: string) => FeatureGap | undefined) | undefined {
  const { me } = useSession();
  const state = useLoad(async (signal) => {
    if (!me) return undefined;
    if (!me.admin && namespace !== me.username) {
      const mine = await api<Paged<Organization>>('/orgs', { signal });
      if (!mine.results.some((o) => o.name === namespace && o.role === 'owner')) return undefined;
    }
    const [usage, plans] = await Promise.all([api<Usage>(`/namespaces/${seg(namespace)}/usage`, { signal }), api<Paged<Plan>>('/plans', { signal })]);
    return { usage, plans: plans.results };
  }, [namespace, me?.username]);
  // until it is known, nothing (not a form that a moment later says it cannot be used); a failure: the API will say
  if (state.loading) return undefined;
  return (feature) => {
    const known = state.error ? undefined : state.data;
    return known && featureGap(known.usage, known.plans, feature);
  };
}

/** Whether the plan that applies to a namespace lacks a feature that some plan has (one no plan lists is not checked: never a gap). */
export function featureGap(usage: { plan: Pick<Plan, 'title' | 'features'>; billed_to: string }, plans: readonly Pick<Plan, 'title' | 'features'>[], feature: string): FeatureGap | undefined {
  if (usage.plan.features.includes(feature)) return undefined;
  const offering = plans.find((p) => p.features.includes(feature));
  if (!offering) return undefined;
  return { plan: usage.plan.title, payer: usage.billed_to, better: offering.title };
}

/** What a lacking plan feature means here, in the reader's words; the API's refusal says the same. */
export function PlanGap({ gap, what }: { gap: FeatureGap; what: string }) {
  const { t } = useI18n();
  return (
    <div className="notice notice-warning" role="note">
      <strong>{t('lifecycle.planLacks', { what, plan: gap.plan, payer: gap.payer })}</strong>
      <p>{t('lifecycle.planAsk', { plan: gap.better })}</p>
    </div>
  );
}

/** A refusal because the namespace's plan lacks a feature (the API's `plan-limit` problem): the form it came from gives way to it. */
export function isPlanRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && error.kind === 'plan-limit';
}
