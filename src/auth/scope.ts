/** A resource scope of Docker's token auth: `repository:alice/app:pull,push`, `registry:catalog:*`. */
export interface Scope {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

