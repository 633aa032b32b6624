import { Link } from 'react-router';
import type { RepositorySummary } from '../api/types';
import { useI18n } from '../i18n/i18n';
import { displayName, repositoryPath } from '../pages/repository/paths';
import { Badge } from './ui';

/** The badges of a repository: official, verified publisher, private. */
export function RepositoryBadges({ repository }: { repository: Pick<RepositorySummary, 'is_official' | 'is_verified_publisher' | 'is_private'> }) {
  const { t } = useI18n();
  return (
    <>
      {repository.is_official && <Badge kind="official">{t('badge.official')}</Badge>}
      {repository.is_verified_publisher && <Badge kind="verified">{t('badge.verified')}</Badge>}
      {repository.is_private && <Badge kind="private">{t('badge.private')}</Badge>}
    </>
  );
}

/** A repository in a list: its name (the link), badges, description, pulls, stars, last update. */
export function RepositoryCard({ repository: r, headingLevel = 3 }: { repository: RepositorySummary; headingLevel?: 2 | 3 }) {
  const { t, compact, relative } = useI18n();
  const Heading = headingLevel === 2 ? 'h2' : 'h3';
  return (
    <li className="card repo-card">
      <Heading className="repo-card-title">
        <Link to={repositoryPath(r.namespace, r.name)}>{displayName(r.namespace, r.name)}</Link>
      </Heading>
      <p className="repo-card-badges">
        <RepositoryBadges repository={r} />
        {r.repository_type === 'artifact' && <Badge kind="neutral">{t('repo.artifact')}</Badge>}
      </p>
      <p className="repo-card-description">{r.description || <span className="muted">{t('repo.noDescription')}</span>}</p>
      <p className="repo-card-facts">
        <span>{t('repo.pullsCount', { n: r.pull_count, count: compact(r.pull_count) })}</span>
        <span>{t('repo.starsCount', { n: r.star_count, count: compact(r.star_count) })}</span>
        <span>{r.last_updated ? t('repo.updated', { when: relative(r.last_updated) }) : t('repo.neverPushed')}</span>
      </p>
    </li>
  );
}

export function RepositoryList({ repositories, label }: { repositories: RepositorySummary[]; label: string }) {
  return (
    <ul className="cards repo-list" aria-label={label}>
      {repositories.map((r) => (
        <RepositoryCard key={`${r.namespace}/${r.name}`} repository={r} />
      ))}
    </ul>
  );
}
